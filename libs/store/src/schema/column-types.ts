/** Column types shared by the table types of every migration set. */

import type { ColumnType } from "kysely";

/** A timestamptz column: read as Date, written as Date or an ISO 8601 string. */
export type Timestamp = ColumnType<Date, Date | string, Date | string>;

/** A timestamptz column that defaults to now() on insert and is never updated. */
export type CreatedAt = ColumnType<Date, Date | string | undefined, never>;

/** A timestamptz column that defaults to now() on insert and may be set on update. */
export type UpdatedAt = ColumnType<Date, Date | string | undefined, Date | string>;
