// The protect suite on the embedded default: PGlite in a folder and the in-process bus.
import { protectSuite } from "./protect-suite.js";

protectSuite({ name: "pglite+in-process", config: () => ({}) });
