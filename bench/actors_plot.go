package main

import (
	"fmt"
	"math"

	"github.com/coregate/coregate/bench/actorsuite"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// actorPlot draws the actor suite as one bar chart: a group of bars per
// case, a bar per system, the height its median rate on a log scale (the
// cases span three decades), each bar labelled with its ratio to hollywood.
func (s *suite) actorPlot(path string) error {
	// Bars start at a decade below the slowest rate, so each bar's height is
	// log10(rate) above that floor; the ticks name the decades.
	lowest := math.Inf(1)
	for _, c := range s.cases {
		for _, sys := range s.systems {
			if rate, _, _, n := s.actorMedians(c, sys); n > 0 {
				lowest = min(lowest, rate)
			}
		}
	}
	if math.IsInf(lowest, 1) {
		return fmt.Errorf("-plot: the actor suite has no measurement to draw")
	}
	floor := math.Floor(math.Log10(lowest))

	p := plot.New()
	p.Title.Text = "actor suite (Savina workloads): median rate per case, higher is better; labels: vs hollywood"
	p.Y.Label.Text = "rate (log scale; unit under each case)"
	p.Y.Tick.Marker = decadeTicks{floor}
	p.Legend.Top = true
	p.Legend.Left = false
	width := vg.Points(14)
	var labels []string
	for _, c := range s.cases {
		labels = append(labels, c+"\n"+actorsuite.Unit(c))
	}
	for i, sys := range s.systems {
		vals := make(plotter.Values, len(s.cases))
		var ratioLabels plotter.XYLabels
		for j, c := range s.cases {
			if rate, _, _, n := s.actorMedians(c, sys); n > 0 {
				vals[j] = math.Log10(rate) - floor
				if r := s.actorRatio(c, sys); r > 0 && sys != "hollywood" {
					ratioLabels.XYs = append(ratioLabels.XYs, plotter.XY{X: float64(j), Y: vals[j]})
					ratioLabels.Labels = append(ratioLabels.Labels, fmt.Sprintf("%.2g", r))
				}
			}
		}
		bars, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return err
		}
		bars.Color = plotutil.Color(i)
		bars.LineStyle.Width = 0
		offset := width * vg.Length(float64(i)-float64(len(s.systems)-1)/2)
		bars.Offset = offset
		p.Add(bars)
		p.Legend.Add(sys, bars)
		if len(ratioLabels.XYs) > 0 {
			l, err := plotter.NewLabels(ratioLabels)
			if err != nil {
				return err
			}
			for k := range l.TextStyle {
				l.TextStyle[k].XAlign = -0.5
				l.TextStyle[k].Font.Size = vg.Points(7)
				l.TextStyle[k].Rotation = math.Pi / 2
			}
			l.Offset = vg.Point{X: offset + vg.Points(4), Y: vg.Points(2)}
			p.Add(l)
		}
	}
	p.NominalX(labels...)
	p.Y.Min = 0
	return saveFigure(path, 36*vg.Centimeter, 14*vg.Centimeter, p.Draw)
}

// decadeTicks labels the decades of a log10 axis that starts at 10^floor.
type decadeTicks struct{ floor float64 }

func (t decadeTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for v := math.Floor(lo); v <= math.Ceil(hi); v++ {
		ticks = append(ticks, plot.Tick{Value: v, Label: fmtRate(math.Pow(10, t.floor+v))})
	}
	return ticks
}
