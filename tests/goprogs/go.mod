module leakhunter.test/goprogs

go 1.26
