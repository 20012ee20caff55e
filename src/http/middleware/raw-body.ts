import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { ApiError } from '../errors.ts';

const DECODERS: Record<string, () => NodeJS.ReadWriteStream> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

/**
 * Reads a request body as bytes, for the operation to parse once routing knows what it accepts.
 * Resolves undefined for a request without a body (no Content-Length, no Transfer-Encoding).
 * At most `limitBytes` after decoding: 413 PAYLOAD_TOO_LARGE, checked against Content-Length before
 * anything is read. gzip, deflate and br are decoded; any other content encoding is 415.
 *
 * What express.raw() did here, for a fraction of its cost: it is on the path of every API call.
 */
export function readRawBody(req: IncomingMessage, limitBytes: number): Promise<Buffer | undefined> {
  const declared = req.headers['content-length'];
  if (declared === undefined && req.headers['transfer-encoding'] === undefined) return Promise.resolve(undefined);
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  let source: Readable = req;
  if (encoding !== 'identity') {
    const decoder = DECODERS[encoding];
    if (!decoder) return Promise.reject(new ApiError('UNSUPPORTED_MEDIA_TYPE', `unsupported content encoding "${encoding}"`));
    source = req.pipe(decoder()) as unknown as Readable;
  } else if (declared !== undefined && Number(declared) > limitBytes) {
    return Promise.reject(new ApiError('PAYLOAD_TOO_LARGE'));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err?: unknown) => {
      if (done) return;
      done = true;
      source.off('data', onData);
      if (err) {
        if (source !== req) req.unpipe();
        return reject(err);
      }
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) return finish(new ApiError('PAYLOAD_TOO_LARGE'));
      chunks.push(chunk);
    };
    source.on('data', onData);
    source.once('end', () => finish());
    source.once('error', () => finish(new ApiError('INVALID_ARGUMENT', encoding === 'identity' ? 'the request body could not be read' : `the request body is not valid ${encoding}`)));
    req.once('aborted', () => finish(new ApiError('INVALID_ARGUMENT', 'the request body was not sent completely')));
  });
}
