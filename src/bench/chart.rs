//! The SVG chart `rwsgi bench` writes: four bar charts side by side —
//! throughput at 64 connections, pipelined throughput, server CPU per
//! request, and memory per idle connection at the largest N.

use std::path::Path;

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use super::runner::{Figures, Group, Options};

/// One bar chart.
struct Panel {
    title: String,
    bars: Vec<(String, f64, RGBColor)>,
}

fn color(group: &Group) -> RGBColor {
    match group {
        Group::Yardstick => RGBColor(110, 110, 110),
        Group::Backend { backend: "tokio", .. } => RGBColor(31, 119, 180),
        Group::Backend { backend: "smol", .. } => RGBColor(44, 160, 44),
        Group::Backend { .. } => RGBColor(255, 127, 14),
        Group::Personality { .. } => RGBColor(148, 103, 189),
        Group::Peer => RGBColor(214, 39, 40),
        Group::Control { .. } => RGBColor(188, 189, 34),
    }
}

/// Writes the chart of `figures` to `path`.
///
/// # Errors
///
/// When the file cannot be written.
pub fn write(path: &Path, figures: &[Figures], options: &Options) -> Result<(), String> {
    let shown: Vec<&Figures> = figures
        .iter()
        .filter(|f| !matches!(f.group, Group::Control { .. }))
        .collect();
    let max_n = options.max_idle();
    let panel = |title: String, value: &dyn Fn(&Figures) -> Option<f64>| Panel {
        title,
        bars: shown
            .iter()
            .filter_map(|f| value(f).map(|v| (f.name.clone(), v, color(&f.group))))
            .collect(),
    };
    let panels = [
        panel(
            format!(
                "requests/s, {} connections (higher is better)",
                options.connections
            ),
            &|f| f.hello.as_ref().map(|l| l.rate),
        ),
        panel(
            format!("requests/s, pipelined ×{} (higher is better)", options.depth),
            &|f| f.pipelined.as_ref().map(|l| l.rate),
        ),
        panel("server CPU µs per request (lower is better)".into(), &|f| {
            f.cpu_per_request.map(|d| d.as_secs_f64() * 1e6)
        }),
        panel(
            format!("KiB RSS per idle connection, N = {max_n} (lower is better)"),
            &|f| {
                f.idle
                    .iter()
                    .find(|i| i.n == max_n)
                    .map(|i| i.per_connection / 1024.0)
            },
        ),
    ];
    let rows = shown.len().max(1) as u32;
    let height = 2 * (90 + 24 * rows);
    let root = SVGBackend::new(path, (1400, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    for (area, panel) in root.split_evenly((2, 2)).iter().zip(&panels) {
        draw(area, panel).map_err(|e| format!("drawing {:?}: {e}", panel.title))?;
    }
    root.present()
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    panel: &Panel,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let n = panel.bars.len() as i32;
    let top = panel.bars.iter().map(|b| b.1).fold(0.0_f64, f64::max);
    let bottom = panel.bars.iter().map(|b| b.1).fold(0.0_f64, f64::min);
    let span = (top - bottom).max(1e-9);
    // Bars run top to bottom in table order.
    let names: Vec<String> = panel.bars.iter().rev().map(|b| b.0.clone()).collect();
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, ("sans-serif", 17))
        .margin(12)
        .x_label_area_size(28)
        .y_label_area_size(190)
        .build_cartesian_2d(bottom..top + span * 0.22, (0..n.max(1)).into_segmented())
        .map_err(|e| e.to_string())?;
    let label = |v: &SegmentValue<i32>| match v {
        SegmentValue::CenterOf(i) => names.get(*i as usize).cloned().unwrap_or_default(),
        _ => String::new(),
    };
    let axis = |v: &f64| human(*v);
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(TRANSPARENT)
        .x_labels(6)
        .x_label_formatter(&axis)
        .y_labels(n.max(1) as usize)
        .y_label_formatter(&label)
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(|e| e.to_string())?;
    let at = |i: usize| n - 1 - i as i32;
    chart
        .draw_series(panel.bars.iter().enumerate().map(|(i, (_, v, c))| {
            let mut bar = Rectangle::new(
                [
                    (0.0_f64.max(bottom), SegmentValue::Exact(at(i))),
                    (*v, SegmentValue::Exact(at(i) + 1)),
                ],
                c.filled(),
            );
            bar.set_margin(3, 3, 0, 0);
            bar
        }))
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(panel.bars.iter().enumerate().map(|(i, (_, v, _))| {
            Text::new(
                format!(" {}", human(*v)),
                (v.max(0.0), SegmentValue::CenterOf(at(i))),
                ("sans-serif", 12),
            )
        }))
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// `1234567` as `1.23 M`, `45678` as `45.7 k`, small values with two decimals.
fn human(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.2} M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1} k", v / 1e3)
    } else if a >= 1e3 {
        format!("{v:.0}")
    } else if a == 0.0 {
        "0".into()
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_short() {
        assert_eq!(human(1_234_567.0), "1.23 M");
        assert_eq!(human(45_678.0), "45.7 k");
        assert_eq!(human(2_500.0), "2500");
        assert_eq!(human(2.71), "2.71");
        assert_eq!(human(0.0), "0");
    }
}
