/** The REST client: JSON in and out, bearer auth, one refresh-and-retry on 401. */
import type { Session } from "./session";
import type { Page } from "./types";

export const API_BASE = "/api/v1";

export interface FieldError {
  field?: string | null;
  message: string;
}

/** An error answered by the API (`{code, message, details}`) or a network failure (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: FieldError[] = [],
  ) {
    super(message);
    this.name = "ApiError";
  }

  /**
   * The route itself does not exist (yet): the framework's own 404, or the 405 the static
   * file mount answers for a write to an unknown path. A missing resource is a domain 404
   * with its own message and is not this.
   */
  get routeMissing(): boolean {
    return (this.status === 404 && this.message === "Not Found") || this.status === 405;
  }
}

type Query = Record<string, string | number | boolean | null | undefined>;

interface RequestOptions {
  query?: Query;
  body?: unknown;
  /** False for sign-in, sign-up and refresh: no token, and a 401 is the answer itself. */
  auth?: boolean;
}

export class Api {
  constructor(private readonly session: Session) {}

  get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>("GET", path, { query });
  }

  post<T>(path: string, body?: unknown, options: Omit<RequestOptions, "body"> = {}): Promise<T> {
    return this.request<T>("POST", path, { ...options, body });
  }

  put<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("PUT", path, { body });
  }

  patch<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("PATCH", path, { body });
  }

  delete<T>(path: string): Promise<T> {
    return this.request<T>("DELETE", path, {});
  }

  /** A list route: accepts the paged shape or a bare array, returns the items. */
  async list<T>(path: string, query?: Query): Promise<T[]> {
    const result = await this.get<Page<T> | T[]>(path, query);
    return Array.isArray(result) ? result : (result.items ?? []);
  }

  async request<T>(method: string, path: string, options: RequestOptions): Promise<T> {
    const auth = options.auth ?? true;
    let response = await this.send(method, path, options, auth);
    if (response.status === 401 && auth && (await this.session.refresh())) {
      response = await this.send(method, path, options, auth);
    }
    if (response.status === 401 && auth) {
      const error = await toError(response);
      this.session.end(error.message);
      throw error;
    }
    if (!response.ok) throw await toError(response);
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  private async send(
    method: string,
    path: string,
    options: RequestOptions,
    auth: boolean,
  ): Promise<Response> {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    if (auth) {
      const token = await this.session.accessToken();
      if (token) headers.Authorization = `Bearer ${token}`;
    }
    try {
      return await fetch(API_BASE + path + queryString(options.query), {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        cache: "no-store",
      });
    } catch {
      throw new ApiError(0, "network_error", "cannot reach the server; check the connection");
    }
  }
}

function queryString(query?: Query): string {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

async function toError(response: Response): Promise<ApiError> {
  let body: { code?: string; message?: string; details?: FieldError[]; detail?: unknown } = {};
  try {
    body = (await response.json()) as typeof body;
  } catch {
    // not JSON (a proxy's error page): fall back to the status line
  }
  const message =
    body.message ??
    (typeof body.detail === "string" ? body.detail : "") ??
    `${response.status} ${response.statusText}`;
  return new ApiError(
    response.status,
    body.code ?? "error",
    message || `${response.status} ${response.statusText}`,
    Array.isArray(body.details) ? body.details : [],
  );
}
