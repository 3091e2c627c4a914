// The segment size chart, drawn on a <canvas> by hand: a step line of member count over time.

const COLORS = {
  line: '#5b3df5',
  fill: 'rgba(91, 61, 245, 0.10)',
  grid: '#eceef4',
  text: '#8a92a3',
};

/** 1, 2, 5 × 10^n steps so the axis reads at a glance. */
function niceStep(range, ticks) {
  const raw = range / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  for (const factor of [1, 2, 5, 10]) if (raw <= factor * magnitude) return factor * magnitude;
  return 10 * magnitude;
}

function timeLabel(ms, span) {
  const date = new Date(ms);
  if (span < 2 * 3600_000) {
    return date.toLocaleTimeString(undefined, {
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
  }
  if (span < 36 * 3600_000) {
    return date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  }
  return date.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
}

/**
 * Draws points [{ at, member_count }] (oldest first) into the canvas at its CSS size. The size
 * holds from each point until the next one, and the last until `now`. The canvas records what it
 * drew in data-points and data-max so tests and people can check it.
 */
export function drawSizeChart(canvas, points, now = Date.now()) {
  const dpr = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 600;
  const height = canvas.clientHeight || 240;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  const ctx = canvas.getContext('2d');
  ctx.scale(dpr, dpr);
  ctx.clearRect(0, 0, width, height);
  ctx.font = '12px system-ui, sans-serif';
  canvas.dataset.points = String(points.length);

  if (points.length === 0) {
    ctx.fillStyle = COLORS.text;
    ctx.textAlign = 'center';
    ctx.fillText('No changes yet: the chart starts with the first sync.', width / 2, height / 2);
    canvas.dataset.max = '0';
    return;
  }

  const times = points.map((p) => new Date(p.at).getTime());
  const start = times[0];
  const end = Math.max(now, times[times.length - 1]) || start + 1;
  const max = Math.max(...points.map((p) => p.member_count), 1);
  const step = niceStep(max, 4);
  const top = Math.ceil((max * 1.05) / step) * step;
  canvas.dataset.max = String(max);

  const pad = { left: 56, right: 16, top: 14, bottom: 28 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const x = (ms) => pad.left + (end === start ? plotW : ((ms - start) / (end - start)) * plotW);
  const y = (count) => pad.top + plotH - (count / top) * plotH;

  // Grid and y labels.
  ctx.strokeStyle = COLORS.grid;
  ctx.fillStyle = COLORS.text;
  ctx.lineWidth = 1;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (let value = 0; value <= top; value += step) {
    const gy = Math.round(y(value)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(pad.left, gy);
    ctx.lineTo(width - pad.right, gy);
    ctx.stroke();
    ctx.fillText(
      new Intl.NumberFormat(undefined, { notation: 'compact' }).format(value),
      pad.left - 8,
      gy,
    );
  }
  // X labels: start, middle, end.
  ctx.textBaseline = 'top';
  const span = end - start;
  [
    [start, 'left'],
    [start + span / 2, 'center'],
    [end, 'right'],
  ].forEach(([ms, align]) => {
    ctx.textAlign = align;
    ctx.fillText(timeLabel(ms, span), x(ms), height - pad.bottom + 8);
  });

  // The step path: each size holds until the next change.
  const path = new Path2D();
  path.moveTo(x(times[0]), y(points[0].member_count));
  for (let i = 1; i < points.length; i += 1) {
    path.lineTo(x(times[i]), y(points[i - 1].member_count));
    path.lineTo(x(times[i]), y(points[i].member_count));
  }
  path.lineTo(x(end), y(points[points.length - 1].member_count));

  const area = new Path2D(path);
  area.lineTo(x(end), y(0));
  area.lineTo(x(times[0]), y(0));
  area.closePath();
  ctx.fillStyle = COLORS.fill;
  ctx.fill(area);
  ctx.strokeStyle = COLORS.line;
  ctx.lineWidth = 2;
  ctx.lineJoin = 'round';
  ctx.stroke(path);

  // The current size, marked at the right edge.
  const last = points[points.length - 1];
  ctx.fillStyle = COLORS.line;
  ctx.beginPath();
  ctx.arc(x(end), y(last.member_count), 4, 0, Math.PI * 2);
  ctx.fill();
}
