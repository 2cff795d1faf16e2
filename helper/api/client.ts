import { createConnection, type Socket } from 'node:net';
import { z } from 'zod';
import {
  encodeFrame,
  FrameDecoder,
  type HelperError,
  type HelperEvent,
  HelperMessage,
  type HelperRequest,
  type HelperResultByRequest,
  MAX_REPLY_FRAME_BYTES,
} from '../../protocol/helper-api.js';

/** A request without its `id`: the client numbers them. */
export type RequestBody = HelperRequest extends infer R ? (R extends HelperRequest ? Omit<R, 'id'> : never) : never;

/** The helper answered with an error frame, or the connection failed. */
export class HelperRequestError extends Error {
  constructor(
    readonly code: HelperError['code'] | 'connection',
    message: string,
  ) {
    super(message);
  }
}

/**
 * A connection to the helper's local API: numbered requests matched to their replies, events to a listener, every
 * frame validated. Used by the `postern` CLI (the desktop app has its own, on the same protocol module).
 */
export class HelperClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (m: HelperMessage) => void; reject: (e: Error) => void }>();
  private closedError: HelperRequestError | undefined;
  onEvent: (event: HelperEvent) => void = () => {};

  private constructor(private readonly socket: Socket) {
    const decoder = new FrameDecoder(MAX_REPLY_FRAME_BYTES);
    socket.on('data', (chunk: Buffer) => {
      for (const frame of decoder.push(chunk)) {
        if (!frame.ok) return this.fail(`bad frame from the helper: ${frame.message}`);
        const parsed = HelperMessage.safeParse(frame.json);
        if (!parsed.success) return this.fail(`bad message from the helper: ${z.prettifyError(parsed.error)}`);
        this.dispatch(parsed.data);
      }
    });
    socket.on('error', (e) => this.fail(e.message));
    socket.on('close', () => this.fail('the helper closed the connection'));
  }

  static connect(socketPath: string): Promise<HelperClient> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(socketPath);
      socket.once('connect', () => resolve(new HelperClient(socket)));
      socket.once('error', (e: NodeJS.ErrnoException) =>
        reject(new HelperRequestError('connection', explainConnectError(socketPath, e))),
      );
    });
  }

  /** Sends a request and resolves with its result; rejects with a HelperRequestError on an error frame. */
  request<T extends RequestBody['type']>(body: Extract<RequestBody, { type: T }>): Promise<HelperResultByRequest[T]> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, {
        resolve: (m) => {
          if (m.type === 'error') reject(new HelperRequestError(m.code, m.message));
          else resolve(m as HelperResultByRequest[T]);
        },
        reject,
      });
      this.socket.write(encodeFrame({ ...body, id } as HelperRequest));
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private dispatch(message: HelperMessage): void {
    if (!('id' in message)) return this.onEvent(message);
    if (message.type === 'error' && message.id === null) return this.fail(message.message, message.code);
    const id = message.id as number;
    const waiter = this.pending.get(id);
    this.pending.delete(id);
    waiter?.resolve(message);
  }

  private fail(reason: string, code: HelperRequestError['code'] = 'connection'): void {
    this.closedError ??= new HelperRequestError(code, reason);
    for (const waiter of this.pending.values()) waiter.reject(this.closedError);
    this.pending.clear();
    this.socket.destroy();
  }
}

function explainConnectError(path: string, e: NodeJS.ErrnoException): string {
  if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') return `postern-helper is not running (no socket at ${path})`;
  if (e.code === 'EACCES') return `not allowed to use ${path}: be root or a member of group postern`;
  return `cannot connect to ${path}: ${e.message}`;
}
