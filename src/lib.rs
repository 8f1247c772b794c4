//! tower-authn
