/**
 * Every command module, registered in help order. A new feature adds its module here (the
 * issue-12 commands `domains`, `switches`, `privacy`, `config` are still to come).
 */
import "./auth";
import "./apps";
import "./release";
import "./gray";
import "./misc";
import "./secret";
import "./completion";
