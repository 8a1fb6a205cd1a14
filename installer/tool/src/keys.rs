//! `keygen` and `sign`: the release key's life on the signing machine.

use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use clap::Args;
use sillok_bundle::sign::{self, SigningKey};

use crate::{CmdResult, Failure, PasswordArgs, user};

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Folder for NAME.key and NAME.pub (an encrypted USB stick or token).
    #[arg(long, value_name = "DIR")]
    out_dir: PathBuf,
    /// File name stem.
    #[arg(long, default_value = "sillok-release")]
    name: String,
    /// Leave the secret key unencrypted (tests and throwaway keys only).
    #[arg(long, conflicts_with = "password_file")]
    no_password: bool,
    #[command(flatten)]
    password: PasswordArgs,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// The file to sign; the signature goes to FILE.minisig.
    file: PathBuf,
    /// The secret key.
    #[arg(long, value_name = "KEY")]
    secret_key: PathBuf,
    #[command(flatten)]
    password: PasswordArgs,
}

pub fn keygen(args: &KeygenArgs) -> CmdResult {
    let password = if args.no_password {
        None
    } else if let Some(file) = &args.password.password_file {
        Some(read_password_file(file)?)
    } else {
        let first = rpassword::prompt_password("password for the new secret key: ")?;
        let again = rpassword::prompt_password("the same password again: ")?;
        if first != again {
            return Err(user("the passwords differ"));
        }
        Some(first)
    };
    if password.as_deref() == Some("") {
        return Err(user(
            "an empty password: use --no-password for a throwaway key",
        ));
    }
    // Private: the secret key's folder is nobody else's business.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&args.out_dir)
        .map_err(|e| user(format!("cannot create {}: {e}", args.out_dir.display())))?;
    let pair = sign::generate(password)?;
    let secret_path = args.out_dir.join(format!("{}.key", args.name));
    let public_path = args.out_dir.join(format!("{}.pub", args.name));
    write_new(&secret_path, pair.secret_key.as_bytes(), 0o600)?;
    write_new(&public_path, pair.public_key.as_bytes(), 0o644)?;
    let public_line = pair.public_key.lines().nth(1).unwrap_or_default();
    println!("key id:      {}", pair.key_id);
    println!("public key:  {public_line}");
    println!("secret key:  {} (keep it offline)", secret_path.display());
    println!("public key file: {}", public_path.display());
    println!("print the key id and public key and give them to the IT officers");
    Ok(())
}

pub fn sign(args: &SignArgs) -> CmdResult {
    let key = load_signing_key(&args.secret_key, &args.password)?;
    let data = std::fs::read(&args.file)
        .map_err(|e| user(format!("cannot read {}: {e}", args.file.display())))?;
    let name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let signature = key.sign(&data, &format!("timestamp:{timestamp}\tfile:{name}"))?;
    let mut out = args.file.clone().into_os_string();
    out.push(".minisig");
    std::fs::write(&out, signature)?;
    println!("{}", PathBuf::from(out).display());
    Ok(())
}

/// Reads a secret key, asking for its password when it has one.
pub fn load_signing_key(path: &Path, password: &PasswordArgs) -> Result<SigningKey, Failure> {
    let password = if sign::is_encrypted(path)? {
        Some(match &password.password_file {
            Some(file) => read_password_file(file)?,
            None => rpassword::prompt_password(format!("password for {}: ", path.display()))?,
        })
    } else {
        None
    };
    Ok(SigningKey::from_file(path, password)?)
}

fn read_password_file(path: &Path) -> Result<String, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| user(format!("cannot read {}: {e}", path.display())))?;
    Ok(text.lines().next().unwrap_or_default().to_owned())
}

/// Writes a new file with `mode`, never over an existing one (a key
/// overwritten by mistake is a site's trust lost).
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> CmdResult {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| user(format!("cannot create {}: {e}", path.display())))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}
