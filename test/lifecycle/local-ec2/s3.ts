/**
 * Amazon S3 (REST), as far as cdk-ami calls it: DeleteObject, path-style (`DELETE /bucket/key`,
 * which the SDK uses for an IP-address endpoint), on the objects CreateStoreImageTask writes.
 */
import { ApiError } from './errors';
import { leaf, node, XML_DECLARATION } from './protocol';
import { s3ObjectId, World } from './world';

export class S3Api {
  constructor(private readonly world: World) {}

  /** Like S3, deleting a missing object succeeds; throws ApiError for what the endpoint does not serve. */
  handle(action: string, url: string): void {
    const match = /^\/([^/?]+)\/([^?]+)/.exec(url);
    if (action !== 'DeleteObject' || !match) {
      throw new ApiError('NotImplemented', `The local endpoint only serves S3 DeleteObject, not ${action} ${url}.`, 501);
    }
    const key = match[2].split('/').map(decodeURIComponent).join('/');
    this.world.s3.delete(s3ObjectId(decodeURIComponent(match[1]), key));
  }
}

export function s3ErrorDocument(error: ApiError, requestId: string): string {
  return `${XML_DECLARATION}${node('Error', leaf('Code', error.code), leaf('Message', error.message), leaf('RequestId', requestId))}`;
}
