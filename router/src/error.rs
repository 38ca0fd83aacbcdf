//! Why a route table was refused.
//!
//! Every message that Next.js also produces is reproduced word for word (odd grammar and spacing
//! included), because users paste these messages into search engines. The wording was checked
//! against `packages/next/src/shared/lib/router/utils/sorted-routes.ts` (`UrlNode._insert` and
//! `UrlNode._smoosh`) and against the copy of that file shipped in the `next` package with error
//! codes E147, E247, E288, E299, E300, E337, E392, E421, E435, E458 and E499.

use thiserror::Error;

/// A reason the whole route layout is refused; `Display` is Next.js's own message where it has one.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RouteError {
    /// Two dynamic segments `[a]` and `[b]` (or two catch-alls) sit at the same level (Next E337).
    #[error(
        "You cannot use different slug names for the same dynamic path ('{previous}' !== '{next}')."
    )]
    DifferentSlugNames {
        /// The name that was registered first at that level.
        previous: String,
        /// The conflicting name seen later.
        next: String,
    },

    /// One path uses the same parameter name twice, e.g. `/[id]/[...id]` (Next E247).
    #[error("You cannot have the same slug name \"{name}\" repeat within a single dynamic path")]
    RepeatedSlugName {
        /// The repeated name.
        name: String,
    },

    /// One path uses two names that are equal once every character outside `[A-Za-z0-9_]` is
    /// dropped, e.g. `[helloworld]` and `[hello-world]` (Next E499).
    #[error(
        "You cannot have the slug names \"{earlier}\" and \"{later}\" differ only by non-word symbols within a single dynamic path"
    )]
    SlugNamesDifferOnlyByNonWordSymbols {
        /// The name that appears earlier in the path.
        earlier: String,
        /// The name that appears later in the path.
        later: String,
    },

    /// A `[...x]` or `[[...x]]` segment is followed by another segment (Next E392).
    #[error("Catch-all must be the last part of the URL.")]
    CatchAllNotLast,

    /// An optional non-catch-all segment such as `[[id]]` (Next E435).
    #[error("Optional route parameters are not yet supported (\"{segment}\").")]
    OptionalParameter {
        /// The whole offending segment, brackets included.
        segment: String,
    },

    /// A name still starts with `[` or ends with `]` after the brackets were taken off (Next E421).
    #[error("Segment names may not start or end with extra brackets ('{name}').")]
    ExtraBrackets {
        /// The name left once the outer brackets (and any `...`) were removed.
        name: String,
    },

    /// A name starts with `.` after any `...` was removed, e.g. `[....id]` or `[..id]` (Next E288).
    #[error("Segment names may not start with erroneous periods ('{name}').")]
    ErroneousPeriods {
        /// The name left once the brackets and any `...` were removed.
        name: String,
    },

    /// A name starts with the single ellipsis character `…` instead of `...` (Next E147).
    #[error("Detected a three-dot character ('…') at ('{name}'). Did you mean ('...')?")]
    ThreeDotCharacter {
        /// The name, still starting with `…`, once the brackets were removed.
        name: String,
    },

    /// An optional catch-all was added at a level that already has a required one (Next E299;
    /// the "an required" and the space before `)` are Next's).
    #[error(
        "You cannot use both an required and optional catch-all route at the same level (\"[...{required}]\" and \"{segment}\" )."
    )]
    RequiredAndOptionalCatchAll {
        /// Name of the required catch-all already at that level.
        required: String,
        /// The whole optional catch-all segment being added.
        segment: String,
    },

    /// A required catch-all was added at a level that already has an optional one (Next E300).
    #[error(
        "You cannot use both an optional and required catch-all route at the same level (\"[[...{optional}]]\" and \"{segment}\")."
    )]
    OptionalAndRequiredCatchAll {
        /// Name of the optional catch-all already at that level.
        optional: String,
        /// The whole required catch-all segment being added.
        segment: String,
    },

    /// A page and an optional catch-all directly below it would both match the same path
    /// (Next E458; "a optional" and the missing `/` before `[[` outside the root are Next's).
    #[error(
        "You cannot define a route with the same specificity as a optional catch-all route (\"{route}\" and \"{route}[[...{optional}]]\")."
    )]
    SameSpecificityAsOptionalCatchAll {
        /// The page's pattern (`/` for the root).
        route: String,
        /// Name of the optional catch-all below it.
        optional: String,
    },

    /// Two entries resolve to the same pattern, e.g. from `api/a` and `api/a/index`. Next.js only
    /// warns ("Duplicate page detected. pages/a.js and pages/a/index.js both resolve to /a.");
    /// Routelet refuses, and names the entries by their 0-based position in the input.
    #[error("Duplicate page detected. Entries #{first} and #{second} both resolve to {pattern}.")]
    DuplicatePage {
        /// The pattern both entries resolve to.
        pattern: String,
        /// Position of the first entry in the input.
        first: usize,
        /// Position of the second entry in the input.
        second: usize,
    },

    /// A bracketed segment with no name, such as `[]`, `[...]` or `[[...]]`. Next.js has no
    /// message for this (its sorter accepts it, its matcher then treats it inconsistently), so
    /// this wording is Routelet's own.
    #[error("Segment names may not be empty ('{segment}').")]
    EmptySegmentName {
        /// The whole offending segment.
        segment: String,
    },
}
