/** Process entry of the `lineage` bin when running from source. */
import { main } from "./main.js";

process.exitCode = await main(process.argv.slice(2));
