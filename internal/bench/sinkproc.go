package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// The sink side of `bench sink` runs `tradestream sink` as its own
// process, so that its memory (peak RSS) and CPU are its own and not the
// benchmark's, which holds the prepared rows of the other sides.

// caughtUpMsg is the sink's log message when it has caught up; its
// attributes give the records and the time since the first record.
const caughtUpMsg = "caught up with the end offsets seen at start"

// sinkProcRun is what one sink process reported.
type sinkProcRun struct {
	records int64
	seconds float64   // first record to caught up
	end     time.Time // when it logged that it had caught up
	peakRSS int64     // bytes: the largest VmHWM read while it ran
}

// first is when the process's first record arrived.
func (r sinkProcRun) first() time.Time {
	return r.end.Add(-time.Duration(r.seconds * float64(time.Second)))
}

// sinkProc is a running sink process.
type sinkProc struct {
	cmd  *exec.Cmd
	done chan struct{}
	run  sinkProcRun
	err  error
}

// startSinkProcess starts the sink command in group on the benchmark's
// topics and schema, with args added (--until-caught-up, --metrics-addr).
// It reads the sink's JSON log for its end report and samples its peak
// RSS until it exits.
func (sb *sinkBench) startSinkProcess(ctx context.Context, group string, args ...string) (*sinkProc, error) {
	o := sb.o
	if len(o.Command) == 0 {
		return nil, fmt.Errorf("bench sink: no command to start the sink")
	}
	all := append(o.Command[1:len(o.Command):len(o.Command)], "--group", group, "--topic-prefix", sb.prefix,
		"--batch-size", fmt.Sprint(o.BatchSize), "--log-format", "json")
	cmd := exec.CommandContext(ctx, o.Command[0], append(all, args...)...)
	url := sb.db.url()
	cmd.Env = append(append(os.Environ(), o.Env...), "TRADESTREAM_DATABASE_URL="+url,
		"TRADESTREAM_DATABASE_LOADER_URL="+url, "TRADESTREAM_DATABASE_READER_URL="+url)
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the sink: %w", err)
	}
	p := &sinkProc{cmd: cmd, done: make(chan struct{})}
	go p.follow(stderr)
	return p, nil
}

// follow reads the process's log until it exits, then waits for it.
func (p *sinkProc) follow(stderr io.Reader) {
	defer close(p.done)
	var peak atomic.Int64 // KiB
	hwm := func() {
		if kb, err := procStatusKiB(p.cmd.Process.Pid, "VmHWM"); err == nil && int64(kb) > peak.Load() {
			peak.Store(int64(kb))
		}
	}
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				hwm()
			}
		}
	}()
	var tail []string
	sc := bufio.NewScanner(stderr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var rec struct {
			Time    time.Time `json:"time"`
			Msg     string    `json:"msg"`
			Records int64     `json:"records"`
			Seconds float64   `json:"seconds_since_first_record"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == caughtUpMsg {
			p.run.records, p.run.seconds, p.run.end = rec.Records, rec.Seconds, rec.Time
			hwm()
		}
		if tail = append(tail, line); len(tail) > 20 {
			tail = tail[1:]
		}
	}
	close(stop)
	<-sampled
	p.err = p.cmd.Wait()
	p.run.peakRSS = peak.Load() * 1024
	if p.err != nil {
		p.err = fmt.Errorf("sink process: %w; its last lines:\n%s", p.err, strings.Join(tail, "\n"))
	}
}

// wait waits for the process to exit and returns its report; a process
// that exited without reporting that it caught up is an error unless
// stopped is set (the benchmark stopped it).
func (p *sinkProc) wait(stopped bool) (sinkProcRun, error) {
	<-p.done
	if p.err == nil && !stopped && p.run.end.IsZero() {
		return p.run, fmt.Errorf("sink process exited without its end report")
	}
	return p.run, p.err
}

// awaitReady waits until the process serves url (its /readyz: Kafka and
// PostgreSQL reached, the metrics up), at most timeout. A process that
// exits meanwhile is an error with its last log lines.
func (p *sinkProc) awaitReady(ctx context.Context, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		res, err := get(rctx, url)
		cancel()
		if err == nil {
			res.Body.Close()
			return nil
		}
		select {
		case <-p.done:
			if p.err != nil {
				return p.err
			}
			return fmt.Errorf("sink process exited before it was ready (%s: %v)", url, err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sink process not ready within %v: %v", timeout, err)
		}
	}
}

// stop ends the process with SIGTERM and waits for it.
func (p *sinkProc) stop() (sinkProcRun, error) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	return p.wait(true)
}

// runSinkProcess runs one sink process in group until it has caught up.
func (sb *sinkBench) runSinkProcess(ctx context.Context, group string) (sinkProcRun, error) {
	p, err := sb.startSinkProcess(ctx, group, "--until-caught-up", "--metrics-addr", "")
	if err != nil {
		return sinkProcRun{}, err
	}
	return p.wait(false)
}
