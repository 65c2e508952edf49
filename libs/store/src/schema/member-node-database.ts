/**
 * Table types of a member node's database, as of the latest migration in
 * `../migrations/member-node/`. Update them with each new migration.
 */

import type { Insertable, Selectable } from "kysely";
import type { UpdatedAt } from "./column-types.js";

/** `node_meta`: the node's small key/value settings. */
export interface NodeMetaTable {
  /** 1..128 characters. */
  key: string;
  /** At most 64 KiB. */
  value: string;
  updated_at: UpdatedAt;
}

/** A member node's tables. `Store<MemberNodeDatabase>` is what a member node opens. */
export interface MemberNodeDatabase {
  node_meta: NodeMetaTable;
}

export type NodeMeta = Selectable<NodeMetaTable>;
export type NewNodeMeta = Insertable<NodeMetaTable>;
