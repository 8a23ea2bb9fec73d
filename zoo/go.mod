module github.com/leakhunter/zoo

go 1.26
