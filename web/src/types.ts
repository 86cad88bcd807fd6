/** Shapes of the API resources the dashboard reads (see docs/api.md). */

/** Money and prices travel as decimal strings; market data as numbers. */
export type Money = string;

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  expires_at: string;
}

export interface User {
  id: number;
  email: string;
  full_name: string;
  role: "trader" | "admin" | string;
  is_active: boolean;
  totp_enabled: boolean;
  created_at: string;
  last_login_at?: string | null;
  locked_until?: string | null;
}

export interface BrokerAccount {
  id: number;
  broker: string;
  label: string;
  credentials_hint: string | null;
  starting_capital: Money;
  currency: string;
  is_active: boolean;
  created_at: string;
}

export interface Instrument {
  symbol: string;
  name: string;
  exchange: string;
  currency: string;
  sector: string;
  tick_size: Money;
  lot_size: Money;
}

export interface Quote {
  symbol: string;
  price: number | null;
  ts: string | null;
  exchange?: string;
  market_open?: boolean;
}

/** GET /market/status and the `status` channel: one exchange's state (times UTC). */
export interface MarketStatus {
  exchange: string;
  timezone: string;
  is_open: boolean;
  reason: string;
  holiday: string | null;
  trading_day: string;
  session_open: string | null;
  session_close: string | null;
  next_open: string | null;
  next_close: string | null;
  message: string;
  ts: string;
}

export interface Candle {
  start: string;
  end: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  trades?: number;
}

export interface CandlesOut {
  symbol: string;
  timeframe: string;
  candles: Candle[];
}

export interface TickFrame {
  symbol: string;
  ts: string;
  price: number;
  qty?: number;
}

export interface CandleFrame extends Candle {
  symbol: string;
  timeframe: string;
}

/** A JSON Schema fragment, as pydantic produces for strategy parameters. */
export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  multipleOf?: number;
  format?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  definitions?: Record<string, JsonSchema>;
}

export interface Strategy {
  name: string;
  /** The human label (older APIs have none: the name is humanised). */
  title?: string;
  description: string;
  timeframes: string[];
  warmup?: number;
  defaults?: Record<string, unknown>;
  params_schema?: JsonSchema;
  parameters?: JsonSchema;
  schema?: JsonSchema;
}

/** GET /strategies: the catalog, possibly with the sizing methods' parameter schemas. */
export interface StrategyCatalog {
  items?: Strategy[];
  strategies?: Strategy[];
  sizing_schemas?: Record<string, JsonSchema>;
  sizing_methods?: Record<string, JsonSchema>;
}

export interface Subscription {
  id: number;
  strategy: string;
  params: Record<string, unknown>;
  symbols: string[];
  timeframe: string;
  broker_account_id: number;
  sizing_method: string;
  sizing_params?: Record<string, unknown>;
  capital_allocation: Money;
  mode: string;
  status?: string;
  is_active?: boolean;
  paused?: boolean;
  created_at?: string;
}

export interface Signal {
  signal_id?: string;
  id?: number | string;
  subscription_id: number;
  strategy: string;
  symbol: string;
  timeframe: string;
  candle_end?: string;
  ts?: string;
  action: string;
  confidence: number;
  price: number | string;
  stop?: number | string | null;
  target?: number | string | null;
  reason?: string;
}

export interface Order {
  id?: number;
  order_id?: number;
  /** One more on every change of the order: the highest version is the current state. */
  version?: number;
  client_order_id?: string;
  broker_account_id?: number;
  symbol: string;
  side: string;
  quantity: Money;
  filled_quantity?: Money;
  order_type?: string;
  limit_price?: Money | null;
  trigger_price?: Money | null;
  average_price?: Money | null;
  product?: string;
  validity?: string;
  status: string;
  reason_code?: string | null;
  reason?: string | null;
  /** manual (the ticket or the API), strategy (a subscription's signal) or system (liquidation). */
  origin?: "manual" | "strategy" | "system" | string;
  subscription_id?: number | null;
  algo_tag?: string | null;
  /** The signal's protective stop and target, when the order came from one. */
  stop_price?: Money | null;
  target_price?: Money | null;
  created_at?: string;
  updated_at?: string;
  ts?: string;
}

export interface Fill {
  id: number;
  order_id: number;
  broker_account_id: number;
  symbol: string;
  side: string;
  quantity: Money;
  price: Money;
  charges: Money;
  charges_detail?: Record<string, string>;
  ts: string;
}

export interface Halt {
  id: number;
  /** Null for the global halt (everyone). */
  user_id: number | null;
  reason: string;
  /** Who halted: the user themself, an administrator, or null (the system). */
  created_by: number | null;
  created_at: string;
}

/** GET /trading/status: the halts that stop the signed-in user's trading now. */
export interface TradingStatus {
  halted: boolean;
  halts: Halt[];
}

/** GET /admin/trading/status. */
export interface AdminTradingStatus {
  global_halt: Halt | null;
  user_halts: Halt[];
}

export type Theme = "system" | "light" | "dark";

/** GET/PUT /users/me/preferences: kept server-side, per user. */
export type Density = "comfortable" | "compact";
/** The trade screen's panels a trader may hide (the chart and the ticket always show). */
export type Panel = "watchlist" | "summary" | "positions" | "orders";

export interface Layout {
  density: Density;
  hidden_panels: Panel[];
}

export interface Preferences {
  watchlist: string[];
  symbol: string | null;
  theme: Theme;
  /** Absent from an API older than the layout preference. */
  layout?: Layout;
  updated_at?: string | null;
}

export interface TotpSetup {
  secret: string;
  otpauth_uri: string;
}

export interface Position {
  id?: number;
  broker_account_id?: number;
  symbol: string;
  product?: string;
  quantity: Money;
  average_price: Money;
  last_price?: Money | number | null;
  realised_pnl?: Money;
  unrealised_pnl?: Money;
}

export interface AccountSummary {
  broker_account_id?: number;
  account_id?: number;
  cash?: Money;
  equity?: Money;
  margin_used?: Money;
  free_margin?: Money;
  realised_pnl?: Money;
  unrealised_pnl?: Money;
  day_pnl?: Money;
  charges?: Money;
  [key: string]: unknown;
}

export interface AuditEntry {
  id: number;
  ts: string;
  actor_id: number | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  ip_address: string | null;
  details: Record<string, unknown>;
}
