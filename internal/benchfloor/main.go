// Command benchfloor is the floor that runbook's whole-process benchmarks
// compare against: the least a program can do to perform the same work at
// the same parallelism, with no engine around it.
//
//	benchfloor -mode exec -n 1000 -p 2          # os/exec `true` n times
//	benchfloor -mode http -url URL -n 1000 -p 2 # GET URL n times, one client
//	benchfloor -mode rss -- COMMAND [ARG...]      # run COMMAND, print its peak RSS
//
// The rss mode exists because a child's peak RSS as its parent sees it
// (wait4's Maxrss) counts the parent's own resident memory at the moment
// of the fork (Linux charges the memory the child shared before exec): a
// test process holding generated runbooks would inflate every figure. A
// small process in between measures only the command.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
)

func main() {
	mode := flag.String("mode", "exec", "exec or http")
	n := flag.Int("n", 1000, "how many operations")
	p := flag.Int("p", 2, "how many at once")
	url := flag.String("url", "", "URL to GET (http mode)")
	flag.Parse()
	if *mode == "rss" {
		os.Exit(peakRSS(flag.Args()))
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	jobs := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	for w := 0; w < *p; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				var err error
				switch *mode {
				case "exec":
					err = exec.Command("true").Run()
				case "http":
					var resp *http.Response
					resp, err = client.Get(*url)
					if err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}
				if err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < *n; i++ {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "benchfloor: %d of %d failed\n", failed, *n)
		os.Exit(1)
	}
}

// peakRSS runs args, its output discarded, and prints its peak resident
// set size in KiB on stdout; the exit code is the command's.
func peakRSS(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "benchfloor: -mode rss needs a command")
		return 2
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = os.Stderr
	err := cmd.Run()
	if cmd.ProcessState == nil {
		fmt.Fprintf(os.Stderr, "benchfloor: %v\n", err)
		return 2
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		fmt.Println(ru.Maxrss)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchfloor: %v\n", err)
		return 1
	}
	return 0
}
