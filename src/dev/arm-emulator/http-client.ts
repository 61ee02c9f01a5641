import http from 'node:http';
import https from 'node:https';

export interface OutboundRequest {
  method: string;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface OutboundResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/**
 * A one-shot request without keep-alive (`agent: false`), so a webhook server in a test can close promptly
 * and no pooled socket outlives the emulator.
 */
export function sendOutbound(url: string, request: OutboundRequest): Promise<OutboundResponse> {
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : http;
  const headers = { ...request.headers };
  if (request.body !== undefined) headers['content-length'] = String(Buffer.byteLength(request.body));
  return new Promise((resolve, reject) => {
    const req = transport.request(
      target,
      { method: request.method, headers, agent: false, timeout: request.timeoutMs, signal: request.signal },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${request.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(request.body);
  });
}
