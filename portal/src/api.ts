/** The portal API as the page uses it: one fetch wrapper, problem+json turned into ApiProblem. */

export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly errors: Array<{ path: string; message: string }> = [],
  ) {
    super(detail);
  }
}

export interface ApiOptions {
  /** The signed-in user's portal token. */
  token: () => string | undefined;
  /** True while the page shows the shared sandbox tenant. */
  sandbox: () => boolean;
  /** Called when the token is refused (expired, revoked, for another audience). */
  onUnauthenticated: () => void;
}

export class Api {
  constructor(private readonly options: ApiOptions) {}

  get<T>(path: string): Promise<T> {
    return this.send<T>('GET', path);
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.send<T>('POST', path, body);
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.send<T>('PATCH', path, body);
  }

  delete(path: string): Promise<void> {
    return this.send<void>('DELETE', path);
  }

  async send<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    const token = this.options.token();
    if (token) headers.authorization = `Bearer ${token}`;
    if (this.options.sandbox()) headers['x-veriproof-sandbox'] = 'true';
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? null : JSON.stringify(body), cache: 'no-store' });
    } catch {
      throw new ApiProblem(0, 'network', 'The service could not be reached. Check your connection and try again.');
    }
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    let data: Record<string, unknown> = {};
    try {
      if (text) data = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // Not ours (a gateway's HTML error page, say): report the status alone.
      if (response.ok) throw new ApiProblem(response.status, 'bad_response', 'The service sent an answer the page could not read.');
    }
    if (response.ok) return data as T;
    const problem = new ApiProblem(
      response.status,
      typeof data.code === 'string' ? data.code : 'error',
      typeof data.detail === 'string' ? data.detail : `The request failed (${response.status}).`,
      Array.isArray(data.errors) ? (data.errors as ApiProblem['errors']) : [],
    );
    if (response.status === 401 && problem.code === 'unauthenticated') this.options.onUnauthenticated();
    throw problem;
  }
}
