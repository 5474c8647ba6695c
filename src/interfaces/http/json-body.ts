import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SpendtrailError } from '../../domain/errors.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * JSON bodies are read as bytes and decoded strictly: Fastify's own parser decodes with
 * replacement characters, so a merchant name holding invalid UTF-8 would be stored as "AWS\uFFFD",
 * which is not what the client sent. Refused instead, as rail payloads are (json-document.ts).
 * Parsing itself stays Fastify's (prototype-poisoning checks included).
 */
export function useStrictJsonParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      done(new SpendtrailError('VALIDATION_FAILED', 'the JSON body is not UTF-8 text'), undefined);
      return;
    }
    void parse(req, text, done);
  });
}

/**
 * Errors the router raises before any route runs (a path that is not valid percent-encoding, a
 * path parameter over the length limit) answer in the API's one error shape, not Fastify's.
 */
export function frameworkError(err: Error & { code?: string }, _req: FastifyRequest, reply: FastifyReply): void {
  const e = new SpendtrailError('VALIDATION_FAILED', `malformed request path (${err.code ?? 'bad url'})`, { field: 'path' });
  void reply.status(400).send({ error: e.toJSON() });
}
