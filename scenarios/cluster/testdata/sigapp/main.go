// Command sigapp is the probe test's app: it runs until SIGTERM, then
// "shuts down" for 300 ms and exits 0, like a service with a shutdown hook.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	fmt.Println("sigapp: running")
	<-sig
	fmt.Println("sigapp: SIGTERM, shutting down")
	time.Sleep(300 * time.Millisecond)
	fmt.Println("sigapp: done")
}
