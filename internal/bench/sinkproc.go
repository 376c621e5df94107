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
	"time"
)

// The sink side of `bench sink` runs `tradestream sink --until-caught-up`
// as its own process, so that its memory (peak RSS) and CPU are its own
// and not the benchmark's, which holds the prepared rows of the other
// sides.

// caughtUpMsg is the sink's log message when it has caught up; its
// attributes give the records and the time since the first record.
const caughtUpMsg = "caught up with the end offsets seen at start"

// sinkProcRun is what one sink process reported.
type sinkProcRun struct {
	records int64
	seconds float64 // first record to caught up
	peakRSS int64   // bytes: the largest VmHWM read while it ran
}

// runSinkProcess runs the sink command in group with batch size batch on
// the benchmark's topics and schema until it has caught up, and reads its
// end report from its JSON log.
func (sb *sinkBench) runSinkProcess(ctx context.Context, group string) (sinkProcRun, error) {
	o := sb.o
	if len(o.Command) == 0 {
		return sinkProcRun{}, fmt.Errorf("bench sink: no command to start the sink")
	}
	args := append(o.Command[1:len(o.Command):len(o.Command)], "--until-caught-up", "--group", group,
		"--topic-prefix", sb.prefix, "--batch-size", fmt.Sprint(o.BatchSize), "--log-format", "json", "--metrics-addr", "")
	cmd := exec.CommandContext(ctx, o.Command[0], args...)
	url := sb.db.url()
	cmd.Env = append(append(os.Environ(), o.Env...), "TRADESTREAM_DATABASE_URL="+url,
		"TRADESTREAM_DATABASE_LOADER_URL="+url, "TRADESTREAM_DATABASE_READER_URL="+url)
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return sinkProcRun{}, err
	}
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		return sinkProcRun{}, fmt.Errorf("start the sink: %w", err)
	}
	var run sinkProcRun
	var peak atomic.Int64 // KiB
	hwm := func() {
		if kb, err := procStatusKiB(cmd.Process.Pid, "VmHWM"); err == nil && int64(kb) > peak.Load() {
			peak.Store(int64(kb))
		}
	}
	stop := make(chan struct{})
	sampled := make(chan struct{})
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
			Msg     string  `json:"msg"`
			Records int64   `json:"records"`
			Seconds float64 `json:"seconds_since_first_record"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == caughtUpMsg {
			run.records, run.seconds = rec.Records, rec.Seconds
			hwm()
		}
		if tail = append(tail, line); len(tail) > 20 {
			tail = tail[1:]
		}
	}
	close(stop)
	<-sampled
	err = cmd.Wait()
	run.peakRSS = peak.Load() * 1024
	if err != nil || run.seconds == 0 {
		return run, fmt.Errorf("sink process: %v, without its end report; its last lines:\n%s", err, strings.Join(tail, "\n"))
	}
	return run, nil
}
