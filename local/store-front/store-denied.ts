/**
 * A request the front refuses, with the code and message the real service answers with, so the
 * SDK raises the same named error it would raise against AWS (AccessDeniedException,
 * InvalidSignatureException, SignatureDoesNotMatch, ...).
 */
export class StoreDenied extends Error {
  readonly service: string;
  readonly code: string;

  constructor(service: string, code: string, message: string) {
    super(message);
    this.name = 'StoreDenied';
    this.service = service;
    this.code = code;
  }

  /** DynamoDB answers JSON with a 400; S3 answers XML, 403 for every refusal here. */
  response(requestId: string): { status: number; contentType: string; body: string } {
    if (this.service === 's3') {
      const xml = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
      return {
        status: 403,
        contentType: 'application/xml',
        body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${xml(this.code)}</Code><Message>${xml(this.message)}</Message><RequestId>${requestId}</RequestId></Error>`,
      };
    }
    return {
      status: 400,
      contentType: 'application/x-amz-json-1.0',
      body: JSON.stringify({ __type: `com.amazon.coral.service#${this.code}`, Message: this.message }),
    };
  }
}
