//! `Display` and `FromStr` for enums stored in the database by name: each type has `ALL` and an
//! `as_str()`, and an unknown name is a typed error naming what it is.

macro_rules! stored_names {
    ($($ty:ident => $err:ident, $what:literal;)*) => {$(
        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        #[error("unknown {} {:?}", $what, .0)]
        pub struct $err(pub String);

        impl ::std::str::FromStr for $ty {
            type Err = $err;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $ty::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| $err(s.to_owned()))
            }
        }
    )*};
}

pub(crate) use stored_names;
