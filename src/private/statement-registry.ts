import * as iam from 'aws-cdk-lib/aws-iam';

/** The EC2 actions that create images, for which the provider grants creation tagged as the stack's. */
export type CreateAction = 'CreateImage' | 'CopyImage' | 'RegisterImage' | 'CreateRestoreImageTask';

/**
 * The names of the statements the provider's roles hold, each written by one
 * grant: a name reused for a different statement fails synth (a typo or a
 * copied key would otherwise silently keep the first statement).
 */
export type StatementName =
  // AmiProvider: every stack's
  | 'describe' | 'image-references' | 'stack-status' | 'manage-own' | 'retag-own' | 'fast-launch-own' | 'govern-own'
  | `${CreateAction}-tagged` | `${CreateAction}-tag-on-create`
  | `kms-use:${string}` | `kms-grant:${string}`
  // AmiFromInstance and BakedAmi (instance-grants.ts), BakedAmi, fast launch
  | 'create-image-instances' | 'instance-terminate' | 'instance-stop' | 'describe-instances' | 'builder-console' | 'fast-launch-templates'
  // AmiFromSnapshot
  | 'register-image-snapshots'
  // CopiedAmi by another account
  | 'assume-copy-role' | 'read-snapshot-permissions' | 'share-snapshots-Add' | 'share-snapshots-Remove'
  // ImportedAmi
  | 'import-image' | 'import-image-snapshots' | 'import-image-tag-on-create' | 'import-tasks' | 'import-cancel' | 'pass-import-roles'
  | 'import-follow' | 'import-rename-remove'
  // AmiFromDisks (disk-import-grants.ts; it shares ImportedAmi's pass-import-roles)
  | 'import-snapshot' | 'import-snapshot-tag-on-create'
  | 'snapshot-import-tasks-op' | 'snapshot-import-tasks-waiter' | 'snapshot-import-cancel-op' | 'snapshot-import-cancel-waiter'
  // StoredAmi
  | 'store-ebs-direct' | 'store-describe-tags' | 'store-objects' | 'store-buckets' | 'delete-stored-objects' | 'store-follow'
  // RestoredAmi
  | 'read-stored-objects' | 'restore-buckets' | 'restore-ebs-start' | 'restore-ebs-write' | 'ebs-encryption-default'
  // retention (retention.ts)
  | 'retention-retire' | 'retention-mark'
  // the image's parameter in another Region (image-parameter.ts)
  | 'ssm-write' | 'ssm-tag-on-create' | 'ssm-delete';

/** A statement without its resources, which a growing statement adds one by one. */
export type StatementShape = Omit<iam.PolicyStatementProps, 'resources'>;

/**
 * The statements of one role (or of one policy of a role), by name: each is built once, however many
 * images ask for it (synth time grows with images), and added by `addStatement`.
 * Asking again with another shape (Sid, actions, effect, conditions) is a
 * conflict and throws; a growing statement only gains resources.
 */
export class StatementRegistry {
  private readonly statements = new Map<StatementName, { readonly statement: iam.PolicyStatement; readonly shape: string }>();

  constructor(private readonly addStatement: (statement: iam.PolicyStatement) => void, private readonly roleName: string) {}

  /** Adds the statement unless it is there; returns it. */
  public add(name: StatementName, props: iam.PolicyStatementProps): iam.PolicyStatement {
    const { resources, ...shape } = props;
    return this.once(name, shape, () => new iam.PolicyStatement(props), resources);
  }

  /** Adds `resource` to the statement of that name, which is made from `shape` the first time. */
  public grow(name: StatementName, shape: StatementShape, resource: string): void {
    const statement = this.once(name, shape, () => new iam.PolicyStatement(shape));
    if (!statement.resources.includes(resource)) statement.addResources(resource);
  }

  private once(name: StatementName, shape: StatementShape, create: () => iam.PolicyStatement, resources?: string[]): iam.PolicyStatement {
    const fingerprint = JSON.stringify(resources ? { ...shape, resources } : shape);
    const existing = this.statements.get(name);
    if (existing) {
      if (existing.shape !== fingerprint) {
        throw new Error(`The ${this.roleName} role's statement "${name}" was asked for twice with different contents (${existing.shape} and ${fingerprint}): give each statement its own name.`);
      }
      return existing.statement;
    }
    const statement = create();
    this.statements.set(name, { statement, shape: fingerprint });
    this.addStatement(statement);
    return statement;
  }
}
