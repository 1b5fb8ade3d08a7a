// Formatting of durations, times and service colours. Times from the API are microseconds.

/** 1234 -> "1.23ms"; durations in microseconds. */
export function formatDuration(us) {
  if (!Number.isFinite(us)) return '-';
  const abs = Math.abs(us);
  if (abs < 1000) return `${trim(us, abs < 10 ? 2 : abs < 100 ? 1 : 0)}µs`;
  if (abs < 1e6) return `${trim(us / 1000, abs < 1e4 ? 2 : abs < 1e5 ? 1 : 0)}ms`;
  if (abs < 60e6) return `${trim(us / 1e6, 2)}s`;
  const minutes = Math.floor(abs / 60e6);
  const seconds = (abs - minutes * 60e6) / 1e6;
  return `${us < 0 ? '-' : ''}${minutes}m${trim(seconds, 0)}s`;
}

function trim(n, digits) {
  return Number(n.toFixed(digits)).toString();
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

/** Microseconds since the epoch -> "2024-05-01 12:00:00.123" in local time. */
export function formatTime(us) {
  const d = new Date(us / 1000);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`
  );
}

/** Microseconds since the epoch -> "12:00:00" local time. */
export function formatClock(us) {
  const d = new Date(us / 1000);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "3 minutes ago" */
export function formatAgo(us, nowUs = Date.now() * 1000) {
  const s = Math.round((nowUs - us) / 1e6);
  if (s < 0) return 'in the future';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

const GO_DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;

/** Is s a Go duration the API accepts ("10ms", "1.5s", "1h30m")? */
export function isGoDuration(s) {
  return GO_DURATION.test(s);
}

const UNITS = { ns: 1e-3, us: 1, µs: 1, ms: 1e3, s: 1e6, m: 60e6, h: 3600e6 };

/** Go duration -> microseconds (NaN when invalid). */
export function parseGoDuration(s) {
  if (!isGoDuration(s)) return NaN;
  let total = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(m[1]) * UNITS[m[2]];
  return total;
}

// Colours chosen to stay apart from each other and readable on white. Services get them in the
// order of the collector's (sorted) service list, so a service keeps its colour on every page;
// a service not in that list yet gets the next free one.
const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#a0cbe8',
  '#ffbe7d',
  '#8cd17d',
  '#b6992d',
  '#499894',
  '#d4a6c8',
  '#bab0ac',
  '#86bcb6',
  '#f1ce63',
  '#79706e',
  '#d7b5a6',
  '#fabfd2',
];

const colorIndex = new Map();

/** Registers the known services (sorted) so their colours do not depend on the page. */
export function registerServices(names) {
  for (const name of [...names].sort()) {
    if (!colorIndex.has(name)) colorIndex.set(name, colorIndex.size);
  }
}

/** The colour of a service. */
export function serviceColor(name) {
  if (!colorIndex.has(name)) colorIndex.set(name, colorIndex.size);
  return PALETTE[colorIndex.get(name) % PALETTE.length];
}

/** Black or white text for a background colour "#rrggbb". */
export function textOn(color) {
  const n = parseInt(color.slice(1), 16);
  const r = (n >> 16) & 255,
    g = (n >> 8) & 255,
    b = n & 255;
  return 0.299 * r + 0.587 * g + 0.114 * b > 150 ? '#111' : '#fff';
}

/** Tag value as display text. */
export function tagText(value) {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** A count short enough for a label: 950 -> "950", 12345 -> "12.3k", 4500000 -> "4.5M". */
export function formatCount(n) {
  const abs = Math.abs(n);
  if (abs < 1e4) return String(n);
  if (abs < 1e6) return `${trim(n / 1e3, abs < 1e5 ? 1 : 0)}k`;
  if (abs < 1e9) return `${trim(n / 1e6, abs < 1e7 ? 1 : 0)}M`;
  return `${trim(n / 1e9, 1)}G`;
}
