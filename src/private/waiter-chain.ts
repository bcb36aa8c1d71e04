import { Duration } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { LINK_BUDGET } from './provider';
import { ProviderResource } from './provider-resource';

export const WAITER_RESOURCE_TYPE = 'Custom::AmiWaiter';

export interface WaiterChainProps {
  readonly serviceToken: string;
  readonly region: string;
  /** The operation resource's physical ID: a change (replacement) restarts the wait. */
  readonly imageId: string;
  readonly timeout: Duration;
  readonly lastLinkProperties?: Record<string, unknown>;
  readonly allLinkProperties?: Record<string, unknown>;
  /** Another kind of wait with the same chaining (e.g. a builder's setup). @default WAITER_RESOURCE_TYPE */
  readonly resourceType?: string;
  /** The property that carries the subject of the wait from link to link. @default 'ImageId' */
  readonly subjectProperty?: string;
}

/**
 * The waiter resources of one image: `timeout` split evenly into links of at
 * most 50 minutes. Link n+1 takes its image ID from link n's attribute, so
 * CloudFormation runs them one after the other, and the last link's
 * attributes resolve only when the image is available.
 */
export class WaiterChain extends Construct {
  public readonly links: ProviderResource[] = [];
  public readonly imageId: string;
  public readonly imageName: string;

  constructor(scope: Construct, id: string, props: WaiterChainProps) {
    super(scope, id);
    const total = props.timeout.toSeconds();
    const count = Math.ceil(total / LINK_BUDGET.toSeconds());
    const budget = Math.ceil(total / count);

    const subject = props.subjectProperty ?? 'ImageId';
    let imageId = props.imageId;
    for (let link = 1; link <= count; link++) {
      const isLast = link === count;
      const waiter = new ProviderResource(this, count === 1 ? 'Waiter' : `Waiter${link}`, props.serviceToken, props.resourceType ?? WAITER_RESOURCE_TYPE, {
        Region: props.region,
        [subject]: imageId,
        Link: link,
        Links: count,
        BudgetSeconds: budget,
        TimeoutSeconds: total,
        ...props.allLinkProperties,
        ...(isLast ? props.lastLinkProperties : {}),
      });
      this.links.push(waiter);
      imageId = waiter.attribute(subject);
    }
    this.imageId = imageId;
    this.imageName = this.links[this.links.length - 1].attribute('ImageName');
  }
}
