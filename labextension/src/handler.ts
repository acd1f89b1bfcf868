import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** The REST prefix of the nbtrack server extension. */
export const API_PREFIX = 'nbtrack/api/v1';

/** An error answer from the nbtrack REST API ({code, message}) or the network. */
export class NbtrackAPIError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
    this.name = 'NbtrackAPIError';
  }
}

/**
 * Call the nbtrack REST API.
 *
 * @param endPoint - path under /nbtrack/api/v1, e.g. `runs`
 * @param query - query parameters; undefined/empty values are left out
 * @param init - fetch options (method, body)
 * @returns the decoded JSON body
 * @throws NbtrackAPIError with the server's message (400 query errors carry the position)
 */
export async function requestAPI<T>(
  endPoint: string,
  query: Record<string, string | number | undefined | null> = {},
  init: RequestInit = {}
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  let url = URLExt.join(settings.baseUrl, API_PREFIX, endPoint);
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') {
      params.set(k, String(v));
    }
  }
  const qs = params.toString();
  if (qs) {
    url += '?' + qs;
  }
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new NbtrackAPIError(0, `Cannot reach the Jupyter server: ${reason}`);
  }
  const text = await response.text();
  let data: unknown = null;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const message = errorMessage(data) || `${response.status} ${response.statusText}`;
    throw new NbtrackAPIError(response.status, message);
  }
  // The body's shape is the REST contract (docs/rest-api.yaml, mirrored by tokens.ts).
  return data as T;
}

/** The `message` of an error body ({code, message}), or '' when there is none. */
function errorMessage(data: unknown): string {
  if (typeof data === 'object' && data !== null && 'message' in data) {
    const { message } = data;
    return typeof message === 'string' ? message : '';
  }
  return '';
}

/** URL of an artifact's bytes (GET /artifacts/<hash>), usable as <img src>. */
export function artifactURL(hash: string): string {
  const base = ServerConnection.makeSettings().baseUrl || PageConfig.getBaseUrl();
  return URLExt.join(base, API_PREFIX, 'artifacts', encodeURIComponent(hash));
}
