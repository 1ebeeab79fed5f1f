//! STUB
pub mod check {
    use std::path::{Path, PathBuf};
    #[derive(Debug, thiserror::Error)]
    #[error("stub")]
    pub struct CheckError;
    impl crate::error::Classify for CheckError { fn exit(&self) -> crate::error::Exit { crate::error::Exit::BadInput } }
    pub struct Landing { pub repo: PathBuf, pub branch: String, pub exists: bool, pub base: String }
    pub fn landing(_r: &Path, _l: Option<&str>) -> Result<Landing, CheckError> { unimplemented!() }
    pub fn out_ignored(_r: &Path, _o: &[(String, usize, PathBuf)]) -> Result<(), CheckError> { unimplemented!() }
    pub fn verify_program(_c: &str, _d: &Path) -> Result<(), CheckError> { unimplemented!() }
    pub fn toplevel(_d: &Path) -> Option<PathBuf> { None }
}
pub mod exclude {
    pub fn install(_r: &std::path::Path, _p: &[String]) -> std::io::Result<()> { unimplemented!() }
}
