module mustgather.local/pause

go 1.22
