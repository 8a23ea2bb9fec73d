"""Frame origins and culprits for Go and Python stacks."""

from __future__ import annotations

from leakhunter.analyze.frames import AppMatcher, Origin, culprit, package_of
from leakhunter.formats.pprof_view import FullView
from leakhunter.model.goroutine import Frame

RT = Frame("runtime.gopark", "/usr/local/go/src/runtime/proc.go", 462)
STD = Frame("net/http.(*persistConn).readLoop", "/usr/local/go/src/net/http/transport.go", 2200)
DEP = Frame(
    "google.golang.org/grpc.(*ClientConn).NewStream",
    "/root/go/pkg/mod/google.golang.org/grpc@v1.70.0/stream.go",
    160,
)
APP = Frame("github.com/acme/svc/cache.(*Store).Put", "/src/svc/cache/store.go", 21)
MAIN = Frame("main.main", "/src/svc/main.go", 10)


def matcher() -> AppMatcher:
    return AppMatcher.detect([RT, STD, DEP, APP])


def test_package_of() -> None:
    assert package_of("github.com/a/b/pkg.(*T).M") == "github.com/a/b/pkg"
    assert package_of("main.f") == "main"
    assert package_of("net/http.Get") == "net/http"


def test_origins_from_paths() -> None:
    m = matcher()
    assert m.goroot == "/usr/local/go/"
    assert m.origin(RT) is Origin.RUNTIME
    assert m.origin(STD) is Origin.STDLIB
    assert m.origin(DEP) is Origin.THIRD_PARTY
    assert m.origin(APP) is Origin.APP
    assert m.origin(MAIN) is Origin.APP


def test_trimpath_builds() -> None:
    m = AppMatcher.detect([])
    assert m.origin(Frame("net/http.Get", "net/http/client.go", 1)) is Origin.STDLIB
    assert (
        m.origin(Frame("google.golang.org/grpc.Dial", "google.golang.org/grpc@v1.2.3/x.go", 1))
        is Origin.THIRD_PARTY
    )
    assert m.origin(Frame("github.com/acme/svc.Run", "github.com/acme/svc/run.go", 1)) is Origin.APP


def test_culprit_is_innermost_app_frame() -> None:
    stack = (RT, DEP, APP, MAIN)
    assert culprit(stack, matcher()) == APP
    assert culprit((RT, STD, DEP), matcher()) is None


def test_app_prefix_overrides_detection() -> None:
    m = AppMatcher(prefix="google.golang.org/grpc")
    assert m.origin(DEP) is Origin.APP
    assert m.origin(APP) is Origin.THIRD_PARTY


def test_python_frames() -> None:
    m = AppMatcher.detect([])
    assert m.origin(Frame("svc.cache.put", "/srv/app/svc/cache.py", 3)) is Origin.APP
    assert (
        m.origin(Frame("asyncio.queues.get", "/usr/lib/python3.11/asyncio/queues.py", 1))
        is Origin.STDLIB
    )
    assert (
        m.origin(Frame("aiohttp.client.get", "/v/lib/python3.11/site-packages/aiohttp/c.py", 1))
        is Origin.THIRD_PARTY
    )


def test_python_culprit_stops_at_the_event_loop_dispatcher() -> None:
    """A library's allocation in a loop callback is not the doing of the main() below the loop."""
    m = AppMatcher(prefix="shop")
    py = "/usr/lib/python3.11/"
    callback = (
        Frame("aiohttp.client_proto.ResponseHandler.data_received", "/site/aiohttp/cp.py", 9),
        Frame("asyncio.events.Handle._run", py + "asyncio/events.py", 80),
        Frame("asyncio.base_events.BaseEventLoop._run_once", py + "asyncio/base_events.py", 1922),
        Frame("shop.server.main", "/srv/shop/server.py", 40),
    )
    assert culprit(callback, m) is None
    in_task = (Frame("shop.orders.place_order", "/srv/shop/orders.py", 12), *callback[1:])
    assert culprit(in_task, m) == in_task[0]


def test_stacks_keep_their_keys_across_profiles_without_addresses() -> None:
    """Python-agent profiles have no addresses: a stack must not take another's key.

    The frames of the second profile are listed in another order, and one is
    new; numbering frames per profile made its stack of "b" hit the cached
    stack of "a" (the zoo's dict cache then flickered between two sites).
    """
    from leakhunter.analyze.series import StackResolver
    from pprof_helpers import hand_profile

    resolver = StackResolver(lambda frames: frames[0].function)
    first = hand_profile([(("a",), (1,)), (("b",), (1,))])
    second = hand_profile([(("b",), (1,)), (("c",), (1,)), (("a",), (1,))])
    assert {loc.address for loc in first.locations + second.locations} == {0}
    assert [info.site for info in resolver.resolve(FullView(first))] == ["a", "b"]
    assert [info.site for info in resolver.resolve(FullView(second))] == ["b", "c", "a"]
