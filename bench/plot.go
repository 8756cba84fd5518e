package main

import (
	"fmt"
	"os"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// plot draws two panels side by side: median tokens/s per wave for each peer,
// and each peer's idle submit-to-start percentiles.
func (s *suite) plot(path string) error {
	waves := plot.New()
	waves.Title.Text = "doubling waves"
	waves.X.Label.Text = "wave (tokens)"
	waves.Y.Label.Text = "tokens/s"
	waves.X.Scale, waves.Y.Scale = plot.LogScale{}, plot.LogScale{}
	waves.X.Tick.Marker, waves.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	waves.Legend.Top, waves.Legend.Left = true, true

	lat := plot.New()
	lat.Title.Text = "submit-to-start latency, idle"
	lat.X.Label.Text = "percentile"
	lat.Y.Label.Text = "µs"
	lat.Y.Scale, lat.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	lat.NominalX("p50", "p99", "p99.9")
	lat.Legend.Top, lat.Legend.Left = true, true

	var waveLines, latLines []any
	for _, p := range s.peers {
		var pts plotter.XYs
		for n := s.o.minWave; n <= s.o.maxWave; n *= 2 {
			var xs []float64
			for _, smp := range s.find(wWaves, p, n) {
				xs = append(xs, smp.TokensPerSec)
			}
			if v := median(xs); v > 0 {
				pts = append(pts, plotter.XY{X: float64(n), Y: v})
			}
		}
		if len(pts) > 0 {
			waveLines = append(waveLines, p, pts)
		}
		var p50, p99, p999 []float64
		for _, smp := range s.find(wLatency+"-idle", p, 0) {
			p50 = append(p50, float64(smp.P50Ns)/1e3)
			p99 = append(p99, float64(smp.P99Ns)/1e3)
			p999 = append(p999, float64(smp.P999Ns)/1e3)
		}
		if len(p50) > 0 {
			latLines = append(latLines, p, plotter.XYs{{X: 0, Y: median(p50)}, {X: 1, Y: median(p99)}, {X: 2, Y: median(p999)}})
		}
	}
	if len(waveLines) == 0 && len(latLines) == 0 {
		return fmt.Errorf("-plot: the run has no waves or latency measurements to draw")
	}
	// A panel without data is left out: an empty log axis cannot be drawn.
	var panels []*plot.Plot
	for _, pl := range []struct {
		p     *plot.Plot
		lines []any
	}{{waves, waveLines}, {lat, latLines}} {
		if len(pl.lines) > 0 {
			if err := plotutil.AddLinePoints(pl.p, pl.lines...); err != nil {
				return err
			}
			panels = append(panels, pl.p)
		}
	}
	return saveFigure(path, 30*vg.Centimeter, 12*vg.Centimeter, func(dc draw.Canvas) {
		tiles := draw.Tiles{Rows: 1, Cols: len(panels), PadX: vg.Centimeter, PadY: vg.Centimeter / 2, PadLeft: vg.Centimeter / 2, PadRight: vg.Centimeter / 2, PadTop: vg.Centimeter / 2, PadBottom: vg.Centimeter / 2}
		cells := plot.Align([][]*plot.Plot{panels}, tiles, dc)
		for i, p := range panels {
			p.Draw(cells[0][i])
		}
	})
}

// saveFigure draws a figure of the given size into path, an .svg or a .png.
func saveFigure(path string, width, height vg.Length, drawFig func(draw.Canvas)) error {
	var c vg.CanvasSizer
	svg := strings.HasSuffix(path, ".svg")
	if svg {
		c = vgsvg.New(width, height)
	} else {
		c = vgimg.New(width, height)
	}
	drawFig(draw.New(c))
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if svg {
		_, err = c.(*vgsvg.Canvas).WriteTo(f)
	} else {
		_, err = vgimg.PngCanvas{Canvas: c.(*vgimg.Canvas)}.WriteTo(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
