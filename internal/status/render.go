package status

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Render writes snap as the one-screen text report of `tradestream
// status`.
func Render(w io.Writer, snap Snapshot) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format, args...) }

	p("tradestream status  %s  (verdicts over %d sample(s))\n\n", snap.At.Format("2006-01-02 15:04:05 MST"), snap.Samples)

	p("BROKERS  cluster %s  controller %d\n", orDash(snap.ClusterID), snap.Controller)
	live := 0
	for _, b := range snap.Brokers {
		if b.Down && b.Error != "" {
			p("  %d\t%s:%d  DOWN: listed in the cluster's metadata but does not answer (%s)\n", b.ID, b.Host, b.Port, b.Error)
			continue
		}
		if b.Down {
			p("  %d\tDOWN: holds replicas of these topics but is not in the cluster's metadata\n", b.ID)
			continue
		}
		live++
		rack := ""
		if b.Rack != "" {
			rack = "  rack " + b.Rack
		}
		p("  %d\t%s:%d%s\n", b.ID, b.Host, b.Port, rack)
	}
	if live == 0 {
		p("  (none reachable)\n")
	}

	p("\nTOPICS\n  NAME\tPARTITIONS\tREPLICATION\tUNDER-REPLICATED\tOFFLINE\tRECORDS\n")
	for _, t := range snap.Topics {
		p("  %s\t%d\t%d\t%d\t%d\t%d\n", t.Name, t.Partitions, t.ReplicationFactor, t.UnderReplicated, t.Offline, t.Records)
	}
	unread := func() bool {
		if snap.KafkaError != "" {
			p("  (could not be read: %s)\n", snap.KafkaError)
			return true
		}
		return false
	}
	if len(snap.Topics) == 0 && !unread() {
		p("  (none)\n")
	}

	p("\nCONSUMER GROUPS\n")
	if len(snap.Groups) == 0 && !unread() {
		p("  (none)\n")
	}
	for _, g := range snap.Groups {
		p("  %s\tstate %s\tmembers %d\tlag %d\tlag %s\t%s\n", g.Name, g.State, g.Members, g.Lag, seconds(g.LagSeconds), g.Verdict)
		p("    trend %s, consuming %.0f/s, producing %.0f/s, catch-up %s\n",
			orDash(string(g.Trend)), g.ConsumeRate, g.ProduceRate, catchUp(g))
		p("    TOPIC\tPARTITION\tCOMMITTED\tEND\tLAG\tLAG-SECONDS\tRETENTION-LEFT\tMEMBER\tVERDICT\n")
		for _, ps := range g.Partitions {
			left := "-"
			if ps.RetentionLeftSeconds >= 0 {
				left = seconds(ps.RetentionLeftSeconds)
			}
			if ps.Retention != "" {
				left += " " + strings.ToUpper(ps.Retention)
			}
			p("    %s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ps.Topic, ps.Partition, offset(ps.Committed), offset(ps.End),
				offset(ps.Lag), seconds(ps.LagSeconds), left, orDash(ps.Member), ps.Verdict)
		}
		for _, w := range g.Warnings {
			p("    WARNING %s\n", w)
		}
	}

	if snap.Tables != nil {
		p("\nTABLES\n  TABLE\tROWS\tSIZE\tPARTITIONS\n")
		for _, t := range snap.Tables {
			rows := strconv.FormatInt(t.Rows, 10)
			if t.Estimated {
				rows = "~" + rows
			}
			parts := "-"
			if t.Partitions > 0 {
				parts = strconv.Itoa(t.Partitions)
			}
			p("  %s\t%s\t%s\t%s\n", t.Name, rows, bytes(t.Bytes), parts)
		}
	}

	if r := snap.Replication; r != nil {
		renderReplication(p, r)
	}

	p("\nDEAD LETTERS  topic %d", snap.DeadLetters.Topic)
	if snap.DeadLetters.Stored != nil {
		var total int64
		var reasons []string
		for r, n := range snap.DeadLetters.Stored {
			total += n
			reasons = append(reasons, fmt.Sprintf("%s %d", r, n))
		}
		sort.Strings(reasons)
		p("  stored %d", total)
		if len(reasons) > 0 {
			p(" (%s)", strings.Join(reasons, ", "))
		}
	}
	p("\n")

	if len(snap.Problems) > 0 {
		p("\nPROBLEMS\n")
		for _, pr := range snap.Problems {
			p("  - %s\n", pr)
		}
	}
	return tw.Flush()
}

// catchUp is a group's catch-up estimate in words.
func catchUp(g Group) string {
	switch {
	case g.KeepingUp:
		return fmt.Sprintf("keeping up (a lag of under %ds, records in flight)", KeepUpSeconds)
	case g.CatchUpSeconds == 0:
		return "caught up"
	case g.CatchUpSeconds < 0 && g.Trend == "":
		return "- (needs two samples)"
	case g.CatchUpSeconds < 0:
		return "never at these rates"
	}
	return "in " + seconds(g.CatchUpSeconds)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func offset(n int64) string {
	if n < 0 {
		return "-"
	}
	return strconv.FormatInt(n, 10)
}

func seconds(s float64) string {
	if s <= 0 {
		return "0s"
	}
	return (time.Duration(s * float64(time.Second))).Round(100 * time.Millisecond).String()
}

func bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// renderReplication writes the POSTGRESQL REPLICATION section.
func renderReplication(p func(string, ...any), r *Replication) {
	p("\nPOSTGRESQL REPLICATION\n")
	if len(r.Standbys) > 0 {
		p("  STANDBY\tADDR\tSTATE\tSYNC\tBEHIND\tREPLAY-LAG\n")
	}
	for _, sb := range r.Standbys {
		behind := "- (needs pg_monitor)"
		if sb.LagBytes >= 0 {
			behind = bytes(sb.LagBytes)
		}
		p("  %s\t%s\t%s\t%s\t%s\t%s\n", orDash(sb.Name), orDash(sb.Addr), orDash(sb.State), orDash(sb.SyncState), behind, seconds(sb.LagSeconds))
	}
	if rs := r.Read; rs != nil {
		if rs.Standby {
			p("  read url: a standby, %s behind the primary, lag %s\n", bytes(rs.LagBytes), seconds(rs.LagSeconds))
		} else {
			p("  read url: a primary (not in recovery), no lag\n")
		}
	}
	if r.Error != "" {
		p("  (could not be read: %s)\n", r.Error)
	} else if len(r.Standbys) == 0 {
		p("  (the primary streams to no standby)\n")
	}
}

// BriefGroup names a consumer group for Brief, with the word it is shown
// by (sink, alerts).
type BriefGroup struct{ Label, Name string }

// Brief is the pipeline in one line, for `up`'s rate report: each group's
// lag with its catch-up in short, and the dead letters. A group without
// any commit yet is "starting"; when Kafka could not be read the lag is
// unknown, said with the reason.
func Brief(snap Snapshot, groups ...BriefGroup) string {
	var parts []string
	if snap.KafkaError != "" {
		parts = append(parts, "lag unknown: "+snap.KafkaError)
	} else {
		for _, bg := range groups {
			g, ok := snap.Group(bg.Name)
			if !ok {
				parts = append(parts, bg.Label+" starting")
				continue
			}
			lag := fmt.Sprintf("%s lag %d", bg.Label, g.Lag)
			if g.LagSeconds >= 1 {
				lag += " (" + seconds(g.LagSeconds) + ")"
			}
			parts = append(parts, lag+" "+briefCatchUp(g))
		}
	}
	dl := fmt.Sprintf("dead letters %d", snap.DeadLetters.Topic)
	if snap.DeadLetters.Stored != nil {
		dl += fmt.Sprintf(" in Kafka, %d stored", snap.DeadLetters.StoredTotal())
	}
	return strings.Join(append(parts, dl), ", ")
}

// briefCatchUp is catchUp in a few words.
func briefCatchUp(g Group) string {
	switch {
	case g.KeepingUp:
		return "keeping up"
	case g.CatchUpSeconds == 0:
		return "caught up"
	case g.CatchUpSeconds < 0 && g.Trend == "":
		return "measuring"
	case g.CatchUpSeconds < 0:
		return "NOT catching up"
	}
	return "catching up in " + seconds(g.CatchUpSeconds)
}
