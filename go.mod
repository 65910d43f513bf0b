module github.com/clearway/clearway

go 1.26.8
