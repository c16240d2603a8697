/**
 * Every command module, registered in help order. A new feature adds its module here.
 */
import "./auth";
import "./apps";
import "./release";
import "./gray";
import "./misc";
import "./secret";
import "./domains";
import "./applications";
import "./switches";
import "./privacy";
import "./messages";
import "./logs";
import "./completion";
import "./webhook";
