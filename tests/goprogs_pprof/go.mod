module leakhunter.test/goprogs_pprof

go 1.22
