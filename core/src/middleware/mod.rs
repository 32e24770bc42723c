//! Middleware: each one an [`Application`](crate::Application) that wraps
//! another, as in WSGI.
//!
//! | middleware | does |
//! |---|---|
//! | [`ProxyFix`] | believes `X-Forwarded-*` (or `Forwarded`) from trusted proxies |
//! | [`HeaderRewrite`] | copies one request header into another environ key |
//! | [`Lint`] | `wsgiref.validate`: checks both sides of the contract |

mod header_list;
mod header_rewrite;
mod lint;
mod proxy_fix;
mod trusted;

pub use header_rewrite::HeaderRewrite;
pub use lint::{Lint, LintError, LintReport};
pub use proxy_fix::{ORIG_KEY, ProxyFix, ProxyFixOrig};
pub use trusted::TrustedPeers;
