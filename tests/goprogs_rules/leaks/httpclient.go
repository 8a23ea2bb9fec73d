package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
)

// --- http-client-per-request: a new Transport per call; its idle connection stays.

var stockURL string

func startStockServer() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, `{"sku":"A-1","stock":3}`)
	}))
	stockURL = "http://" + ln.Addr().String() + "/stock"
}

func fetchStock(i int) {
	client := &http.Client{Transport: &http.Transport{}} // BUG: a new pool per call
	resp, err := client.Get(stockURL)
	if err != nil {
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close() // the body is closed: the connection goes idle in a pool nobody reuses
}

func init() {
	register("http-client-per-request", startStockServer, fetchStock)
}
