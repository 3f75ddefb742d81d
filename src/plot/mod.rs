//! Figures for papers, on plotters: every figure is written as SVG and as a 300-dpi PNG, with
//! DejaVu Sans embedded (so headless machines render text) and the Okabe-Ito colour-blind-safe
//! palette. Each figure is drawn from a results file, so `mindlens plot results.json` redraws it.

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::error::{Error, Result};

/// Okabe-Ito palette (colour-blind safe), in the order series use it.
pub const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(230, 159, 0),   // orange
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(0, 0, 0),       // black
];

/// Grey for reference lines (chance, controls).
pub const GREY: RGBColor = RGBColor(120, 120, 120);

/// Figure size in points (1/72 inch) for SVG; PNG is the same figure at 300 dpi.
const WIDTH: u32 = 480;
const HEIGHT: u32 = 320;
const PNG_SCALE: f64 = 300.0 / 72.0;

fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Bundled bytes: registration only fails on a corrupt font, which is a build bug.
        plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
            .map_err(|_| ())
            .expect("bundled DejaVu Sans regular is a valid font");
        plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold())
            .map_err(|_| ())
            .expect("bundled DejaVu Sans bold is a valid font");
    });
}

/// A figure that can draw itself on any plotters backend.
pub trait Draw {
    /// Draws on `root`; `s` scales sizes given in points (1 for SVG, 300/72 for PNG).
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, s: f64) -> std::result::Result<(), String>;

    /// Writes the figure as `{stem}.svg` and a 300-dpi `{stem}.png`; returns both paths.
    fn save(&self, stem: &Path) -> Result<Vec<PathBuf>>
    where
        Self: Sized,
    {
        save_figure(stem, self)
    }
}

/// Draws `fig` twice, as `{stem}.svg` and `{stem}.png`, and returns both paths.
pub fn save_figure(stem: &Path, fig: &impl Draw) -> Result<Vec<PathBuf>> {
    let draw_svg = |root: &DrawingArea<SVGBackend, Shift>, s: f64| fig.draw(root, s);
    let draw_png = |root: &DrawingArea<BitMapBackend, Shift>, s: f64| fig.draw(root, s);
    register_fonts();
    let svg = stem.with_extension("svg");
    let png = stem.with_extension("png");
    let fail = |p: &Path, e: String| Error::Invalid(format!("drawing {}: {e}", p.display()));
    {
        let root = SVGBackend::new(&svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(&svg, e.to_string()))?;
        draw_svg(&root, 1.0).map_err(|e| fail(&svg, e))?;
        root.present().map_err(|e| fail(&svg, e.to_string()))?;
    }
    {
        let size = ((WIDTH as f64 * PNG_SCALE) as u32, (HEIGHT as f64 * PNG_SCALE) as u32);
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(&png, e.to_string()))?;
        draw_png(&root, PNG_SCALE).map_err(|e| fail(&png, e))?;
        root.present().map_err(|e| fail(&png, e.to_string()))?;
    }
    Ok(vec![svg, png])
}

/// One line of a line chart, with an optional ±band.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// `(x, y)` points.
    pub points: Vec<(f64, f64)>,
    /// Half-width of the band around each point (e.g. a standard deviation).
    pub band: Option<Vec<f64>>,
    /// Dashed grey reference line instead of a coloured series.
    pub reference: bool,
}

/// A line chart: several series against a shared x axis.
#[derive(Clone, Debug)]
pub struct LineChart {
    /// Title above the plot.
    pub title: String,
    /// x-axis label, with units.
    pub x_label: String,
    /// y-axis label, with units.
    pub y_label: String,
    /// The series.
    pub series: Vec<Series>,
    /// Fixed y range, else fitted to the data.
    pub y_range: Option<(f64, f64)>,
}

impl Series {
    /// A plain coloured line.
    pub fn line(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            label: label.into(),
            points,
            band: None,
            reference: false,
        }
    }

    /// The same line with a ±band around each point.
    pub fn with_band(mut self, band: Vec<f64>) -> Self {
        self.band = Some(band);
        self
    }
}

impl LineChart {
    /// A chart of `series`, its y range fitted to the data.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
        series: Vec<Series>,
    ) -> Self {
        LineChart {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            series,
            y_range: None,
        }
    }

    /// Fixes the y range.
    pub fn y_range(mut self, lo: f64, hi: f64) -> Self {
        self.y_range = Some((lo, hi));
        self
    }

    /// Adds a dashed horizontal reference line at `y` (chance, indifference) across the x
    /// range of the series so far.
    pub fn with_reference(mut self, label: impl Into<String>, y: f64) -> Self {
        let xs = self.series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
        let (lo, hi) = xs
            .filter(|x| x.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| (lo.min(x), hi.max(x)));
        let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
        self.series.push(Series {
            label: label.into(),
            points: vec![(lo, y), (hi, y)],
            band: None,
            reference: true,
        });
        self
    }
}

impl Heatmap {
    /// A heatmap of `values` with its colour range fitted to the data and indices as names.
    pub fn new(
        title: impl Into<String>,
        row_label: impl Into<String>,
        col_label: impl Into<String>,
        values: Vec<Vec<f64>>,
        value_label: impl Into<String>,
    ) -> Self {
        Heatmap {
            title: title.into(),
            row_label: row_label.into(),
            col_label: col_label.into(),
            values,
            range: None,
            value_label: value_label.into(),
            row_names: None,
            col_names: None,
        }
    }
}

/// A tick label with at most three decimals and no trailing zeros.
fn short(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

fn finite_range(vals: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = vals
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.08).max(1e-6);
    (lo - pad, hi + pad)
}

impl Draw for LineChart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, s: f64) -> std::result::Result<(), String> {
        let px = |v: f64| (v * s).round() as i32;
        let xs = finite_range(self.series.iter().flat_map(|se| se.points.iter().map(|p| p.0)));
        let ys = self.y_range.unwrap_or_else(|| {
            finite_range(self.series.iter().flat_map(|se| {
                se.points.iter().enumerate().flat_map(move |(i, p)| {
                    let b = se.band.as_ref().map(|b| b[i]).unwrap_or(0.0);
                    [p.1 - b, p.1 + b]
                })
            }))
        });
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", px(13.0)).into_font())
            .margin(px(8.0))
            .x_label_area_size(px(34.0))
            .y_label_area_size(px(46.0))
            .build_cartesian_2d(xs.0..xs.1, ys.0..ys.1)
            .map_err(|e| e.to_string())?;
        let integer_x = self
            .series
            .iter()
            .flat_map(|se| se.points.iter())
            .all(|p| p.0.fract() == 0.0);
        let x_fmt = |v: &f64| if integer_x { format!("{v:.0}") } else { short(*v) };
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .x_label_formatter(&x_fmt)
            .label_style(("sans-serif", px(10.0)))
            .axis_desc_style(("sans-serif", px(11.0)))
            .light_line_style(RGBColor(242, 242, 242))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()
            .map_err(|e| e.to_string())?;
        let mut colour = 0;
        for se in &self.series {
            let c = if se.reference {
                GREY
            } else {
                colour += 1;
                PALETTE[(colour - 1) % PALETTE.len()]
            };
            let pts: Vec<(f64, f64)> = se
                .points
                .iter()
                .copied()
                .filter(|p| p.0.is_finite() && p.1.is_finite())
                .collect();
            if let Some(band) = &se.band {
                let mut poly: Vec<(f64, f64)> = se.points.iter().zip(band).map(|(p, b)| (p.0, p.1 + b)).collect();
                poly.extend(se.points.iter().zip(band).rev().map(|(p, b)| (p.0, p.1 - b)));
                poly.retain(|p| p.0.is_finite() && p.1.is_finite());
                chart
                    .draw_series(std::iter::once(Polygon::new(poly, c.mix(0.2))))
                    .map_err(|e| e.to_string())?;
            }
            let style = ShapeStyle::from(&c).stroke_width((1.5 * s).max(1.0) as u32);
            let drawn = if se.reference {
                chart
                    .draw_series(DashedLineSeries::new(
                        pts.clone(),
                        px(5.0) as u32,
                        px(4.0) as u32,
                        style,
                    ))
                    .map_err(|e| e.to_string())?
            } else {
                chart
                    .draw_series(LineSeries::new(pts.clone(), style))
                    .map_err(|e| e.to_string())?;
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, px(2.0), c.filled())))
                    .map_err(|e| e.to_string())?
            };
            drawn.label(se.label.clone()).legend(move |(x, y)| {
                PathElement::new(
                    vec![(x, y), (x + (14.0 * s) as i32, y)],
                    ShapeStyle::from(&c).stroke_width((2.0 * s).max(1.0) as u32),
                )
            });
        }
        chart
            .configure_series_labels()
            .legend_area_size(px(20.0))
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .label_font(("sans-serif", px(9.0)))
            .draw()
            .map_err(|e| e.to_string())
    }
}

/// A heatmap with a colour bar, e.g. probe accuracy by layer and head.
#[derive(Clone, Debug)]
pub struct Heatmap {
    /// Title.
    pub title: String,
    /// Label of the rows (y axis).
    pub row_label: String,
    /// Label of the columns (x axis).
    pub col_label: String,
    /// Values `[rows][cols]`; NaN cells are left blank.
    pub values: Vec<Vec<f64>>,
    /// Colour scale range, else the data's range.
    pub range: Option<(f64, f64)>,
    /// Label of the colour bar, with units.
    pub value_label: String,
    /// Names of the rows (default: their indices).
    pub row_names: Option<Vec<String>>,
    /// Names of the columns (default: their indices).
    pub col_names: Option<Vec<String>>,
}

impl Draw for Heatmap {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, s: f64) -> std::result::Result<(), String> {
        let px = |v: f64| (v * s).round() as i32;
        let rows = self.values.len();
        let cols = self.values.first().map_or(0, Vec::len);
        let (lo, hi) = self.range.unwrap_or_else(|| {
            let r = finite_range(self.values.iter().flatten().copied());
            (r.0, r.1)
        });
        let (main, bar) = root.split_horizontally(root.dim_in_pixel().0 as i32 - px(70.0));
        // Named rows need room for their names beside the axis description (~6 px a character
        // at the 10 px label font).
        let longest = self
            .row_names
            .iter()
            .flatten()
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(0);
        let mut chart = ChartBuilder::on(&main)
            .caption(&self.title, ("sans-serif", px(13.0)).into_font())
            .margin(px(8.0))
            .x_label_area_size(px(34.0))
            .y_label_area_size(px(40f64.max(22.0 + 6.0 * longest as f64)))
            .build_cartesian_2d(-0.5..cols as f64 - 0.5, -0.5..rows as f64 - 0.5)
            .map_err(|e| e.to_string())?;
        // Cells are centred on integer coordinates, so integer ticks name whole cells.
        let name = |names: &Option<Vec<String>>, v: f64| {
            let i = v.round();
            if (v - i).abs() > 1e-6 || i < 0.0 {
                return String::new();
            }
            match names {
                Some(n) => n.get(i as usize).cloned().unwrap_or_default(),
                None => format!("{}", i as i64),
            }
        };
        let x_fmt = |v: &f64| name(&self.col_names, *v);
        let y_fmt = |v: &f64| name(&self.row_names, *v);
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(&self.col_label)
            .y_desc(&self.row_label)
            .x_labels(cols.min(16))
            .y_labels(rows.min(16))
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .label_style(("sans-serif", px(10.0)))
            .axis_desc_style(("sans-serif", px(11.0)))
            .draw()
            .map_err(|e| e.to_string())?;
        let colour = |v: f64| {
            let t = ((v - lo) / (hi - lo).max(1e-12)).clamp(0.0, 1.0);
            ViridisRGB::get_color(t)
        };
        chart
            .draw_series(self.values.iter().enumerate().flat_map(|(r, row)| {
                row.iter()
                    .enumerate()
                    .filter(|(_, v)| v.is_finite())
                    .map(move |(c, &v)| {
                        Rectangle::new(
                            [(c as f64 - 0.5, r as f64 - 0.5), (c as f64 + 0.5, r as f64 + 0.5)],
                            colour(v).filled(),
                        )
                    })
            }))
            .map_err(|e| e.to_string())?;
        // Colour bar.
        let mut cb = ChartBuilder::on(&bar)
            .margin_top(px(30.0))
            .margin_bottom(px(40.0))
            .margin_right(px(8.0))
            .y_label_area_size(px(34.0))
            .build_cartesian_2d(0.0..1.0, lo..hi)
            .map_err(|e| e.to_string())?;
        cb.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_desc(&self.value_label)
            .label_style(("sans-serif", px(9.0)))
            .axis_desc_style(("sans-serif", px(10.0)))
            .draw()
            .map_err(|e| e.to_string())?;
        let steps = 64;
        cb.draw_series((0..steps).map(|i| {
            let a = lo + (hi - lo) * i as f64 / steps as f64;
            let b = lo + (hi - lo) * (i + 1) as f64 / steps as f64;
            Rectangle::new([(0.0, a), (1.0, b)], colour((a + b) / 2.0).filled())
        }))
        .map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// A 2-D scatter of points coloured by class.
#[derive(Clone, Debug)]
pub struct Scatter {
    /// Title.
    pub title: String,
    /// x-axis label.
    pub x_label: String,
    /// y-axis label.
    pub y_label: String,
    /// `(class name, points)` groups.
    pub groups: Vec<(String, Vec<(f64, f64)>)>,
}

impl Draw for Scatter {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, s: f64) -> std::result::Result<(), String> {
        let px = |v: f64| (v * s).round() as i32;
        let xs = finite_range(self.groups.iter().flat_map(|g| g.1.iter().map(|p| p.0)));
        let ys = finite_range(self.groups.iter().flat_map(|g| g.1.iter().map(|p| p.1)));
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", px(13.0)).into_font())
            .margin(px(8.0))
            .x_label_area_size(px(34.0))
            .y_label_area_size(px(46.0))
            .build_cartesian_2d(xs.0..xs.1, ys.0..ys.1)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .label_style(("sans-serif", px(10.0)))
            .axis_desc_style(("sans-serif", px(11.0)))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(|e| e.to_string())?;
        for (i, (name, pts)) in self.groups.iter().enumerate() {
            let c = PALETTE[i % PALETTE.len()];
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, px(2.2), c.mix(0.7).filled())))
                .map_err(|e| e.to_string())?
                .label(name.clone())
                .legend(move |(x, y)| Circle::new((x + (6.0 * s) as i32, y), (3.0 * s) as i32, c.filled()));
        }
        chart
            .configure_series_labels()
            .legend_area_size(px(12.0))
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .label_font(("sans-serif", px(9.0)))
            .draw()
            .map_err(|e| e.to_string())
    }
}
