// The Bus contract on the in-process implementation (no server needed).
import { createInProcessBus } from "../src/index.js";
import { busContract } from "./bus-contract.js";

busContract("in-process", async () => createInProcessBus());
