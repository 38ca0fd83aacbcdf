//! GET /api/panic → 500, on purpose.
//!
//! A panic traps the component instance. The host answers `500`, logs the route, throws the
//! instance away and keeps serving every other request: there is nothing to catch here.

use routelet_sdk::{Request, Response};

pub fn handler(req: Request) -> Response {
    panic!("{} {} panicked on purpose", req.method(), req.url());
}
