// Command peakrss runs a command and writes its peak resident set (bytes)
// to a file: peakrss OUT CMD [ARGS...]. A small process in between keeps
// the figure the command's own: on Linux a child started with vfork
// carries its parent's high-water mark into its rusage, and a test binary
// (with -race especially) is far larger than the job it measures. SIGTERM
// and SIGINT are passed on to the command.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: peakrss OUT CMD [ARGS...]")
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[2], os.Args[3:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	err := cmd.Start()
	if err == nil {
		go func() {
			for s := range sigs {
				_ = cmd.Process.Signal(s)
			}
		}()
		err = cmd.Wait()
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		fmt.Fprintln(os.Stderr, "peakrss:", err)
		os.Exit(2)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		_ = os.WriteFile(os.Args[1], []byte(strconv.FormatInt(int64(ru.Maxrss)*1024, 10)), 0o600)
	}
	os.Exit(cmd.ProcessState.ExitCode())
}
