// Formatting for people: numbers, times (absolute and relative), connection names.

const numberFormat = new Intl.NumberFormat();
const timeFormat = new Intl.DateTimeFormat(undefined, {
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

export function number(value) {
  return numberFormat.format(value);
}

export function time(iso) {
  return iso ? timeFormat.format(new Date(iso)) : '—';
}

export function ago(iso, now = Date.now()) {
  if (!iso) return 'never';
  const seconds = Math.round((now - new Date(iso).getTime()) / 1000);
  if (seconds < 45) return 'just now';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 36) return `${hours} h ago`;
  return `${Math.round(hours / 24)} days ago`;
}

/** A length of time in seconds for people: 45 s, 12 min, 30 h, 3 days. */
export function duration(seconds) {
  if (seconds < 60) return `${Math.max(0, Math.round(seconds))} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h`;
  return `${Math.round(hours / 24)} days`;
}

/** A connection's name for people: its Heap environment id, or what kind of tenant it is. */
export function connectionName(key, connections) {
  if (key === 'own') return 'Own environment';
  const connection = connections.find((c) => c.connection === key);
  if (!connection) return `Unlinked (${key.length > 14 ? `${key.slice(0, 12)}…` : key})`;
  return `Env ${connection.env_id}`;
}

export function segmentName(segment) {
  return segment.name || `Segment ${segment.segment_id}`;
}

export function segmentHref(connection, segmentId) {
  return `#/segments/${encodeURIComponent(connection)}/${segmentId}`;
}
