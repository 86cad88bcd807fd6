/** Display formatting. Money arrives as decimal strings and is formatted without floats. */

/** "1234567.5" -> "12,34,567.50" (en-IN grouping), exact for any size. */
export function money(value: unknown, decimals = 2): string {
  if (value === null || value === undefined || value === "") return "-";
  const text = typeof value === "number" ? value.toFixed(decimals) : plain(String(value).trim());
  const match = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(text);
  if (!match) return text;
  const [, sign, whole = "", fraction = ""] = match;
  let digits = (fraction + "0".repeat(decimals)).slice(0, decimals);
  let integer = BigInt(whole || "0");
  // Round half up on the first dropped digit.
  if ((fraction[decimals] ?? "0") >= "5") {
    const scaled = integer * 10n ** BigInt(decimals) + BigInt(digits || "0") + 1n;
    integer = scaled / 10n ** BigInt(decimals);
    digits = decimals ? (scaled % 10n ** BigInt(decimals)).toString().padStart(decimals, "0") : "";
  }
  const isZero = integer === 0n && /^0*$/.test(digits);
  const grouped = integer.toLocaleString("en-IN");
  return `${sign === "-" && !isZero ? "-" : ""}${grouped}${decimals ? `.${digits}` : ""}`;
}

/** Exponent notation ("1E+5", "2.5E-3", as some decimal encoders write) to plain digits. */
export function plain(text: string): string {
  const match = /^([+-]?)(\d*)(?:\.(\d*))?[eE]([+-]?\d+)$/.exec(text);
  if (!match) return text;
  const [, sign = "", whole = "", fraction = "", exp = "0"] = match;
  const all = whole + fraction;
  const shift = whole.length + Number(exp); // where the point falls within all the digits
  if (shift <= 0) return `${sign}0.${"0".repeat(-shift)}${all}`;
  if (shift >= all.length) return `${sign}${all}${"0".repeat(shift - all.length)}`;
  return `${sign}${all.slice(0, shift)}.${all.slice(shift)}`;
}

/** A market price (float) with up to `decimals` places. */
export function price(value: unknown, decimals = 2): string {
  if (value === null || value === undefined || value === "") return "-";
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isFinite(n)) return String(value);
  return n.toLocaleString("en-IN", {
    minimumFractionDigits: decimals,
    maximumFractionDigits: decimals,
  });
}

/** A quantity: trailing zeros of a decimal string dropped ("10.000" -> "10"). */
export function qty(value: unknown): string {
  if (value === null || value === undefined || value === "") return "-";
  const text = plain(String(value));
  return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
}

/** -1, 0 or 1 for a decimal string or number; styles profit and loss. */
export function sign(value: unknown): number {
  if (value === null || value === undefined) return 0;
  const text = String(value).trim();
  if (/^-/.test(text) && /[1-9]/.test(text)) return -1;
  return /[1-9]/.test(text) ? 1 : 0;
}

export function pnlClass(value: unknown): string {
  const s = sign(value);
  return s > 0 ? "up" : s < 0 ? "down" : "";
}

/** Local time; today's timestamps show only the time of day. */
export function time(value: unknown): string {
  if (!value) return "-";
  const date = new Date(String(value));
  if (Number.isNaN(date.getTime())) return String(value);
  const today = new Date();
  const sameDay = date.toDateString() === today.toDateString();
  const clock = date.toLocaleTimeString("en-GB", { hour12: false });
  return sameDay ? clock : `${date.toLocaleDateString("en-CA")} ${clock}`;
}

export function percent(value: unknown): string {
  const n = Number(value);
  return Number.isFinite(n) ? `${Math.round(n * 100)}%` : "-";
}
