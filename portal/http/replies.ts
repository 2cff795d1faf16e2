import type { FastifyReply } from 'fastify';
import type { ApiError } from '../../protocol/portal-http.js';

export function apiError(reply: FastifyReply, status: number, error: string, message: string) {
  const body: ApiError = { error, message: message.slice(0, 2048) };
  return reply.code(status).send(body);
}

export function bearerToken(header: string | undefined): string | undefined {
  return /^Bearer (\S+)$/.exec(header ?? '')?.[1];
}
