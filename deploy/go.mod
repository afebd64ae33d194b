module github.com/cobraspace/cobraspace/deploy

go 1.26
