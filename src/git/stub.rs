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
pub struct Local;
impl Local { pub fn new(_r: impl Into<std::path::PathBuf>) -> Local { Local } }
impl super::Git for Local {
    fn ensure_worktree(&self, _: &std::path::Path, _: &str) -> super::Result<()> { todo!() }
    fn prepare(&self, _: &std::path::Path, _: &str, _: &str) -> super::Result<super::Prepared> { todo!() }
    fn commit(&self, _: &std::path::Path, _: &str, _: &super::Trailers, _: &[std::path::PathBuf], _: &super::Oid) -> super::Result<super::Committed> { todo!() }
    fn integrate(&self, _: &std::path::Path, _: &str, _: &str, _: super::Strategy, _: &str, _: &super::Trailers) -> super::Result<super::Integrated> { todo!() }
    fn advance(&self, _: &str, _: &super::Oid, _: &super::Oid) -> super::Result<bool> { todo!() }
    fn tip(&self, _: &str) -> super::Result<Option<super::Oid>> { todo!() }
    fn contains(&self, _: &str, _: &super::Oid) -> super::Result<bool> { todo!() }
    fn delete_branch(&self, _: &str, _: &super::Oid) -> super::Result<()> { todo!() }
    fn remove_worktree(&self, _: &std::path::Path) -> super::Result<bool> { todo!() }
}
