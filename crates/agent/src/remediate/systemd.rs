//! systemd over D-Bus: `org.freedesktop.systemd1.Manager.RestartUnit(unit, "replace")` on the
//! system bus socket, the way `systemctl restart` asks, without needing systemctl in the image.

use std::path::Path;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(30);

async fn connect(socket: &Path) -> Result<zbus::Connection, String> {
    let address = format!("unix:path={}", socket.display());
    let fut = async {
        zbus::connection::Builder::address(address.as_str())
            .build()
            .await
            .map_err(|e| format!("cannot connect to D-Bus at {}: {e}", socket.display()))
    };
    tokio::time::timeout(TIMEOUT, fut)
        .await
        .map_err(|_| format!("D-Bus at {} did not answer", socket.display()))?
}

async fn manager_call<B>(socket: &Path, method: &str, body: &B) -> Result<zbus::Message, String>
where
    B: serde::Serialize + zbus::zvariant::DynamicType,
{
    let conn = connect(socket).await?;
    tokio::time::timeout(
        TIMEOUT,
        conn.call_method(
            Some("org.freedesktop.systemd1"),
            "/org/freedesktop/systemd1",
            Some("org.freedesktop.systemd1.Manager"),
            method,
            body,
        ),
    )
    .await
    .map_err(|_| {
        format!(
            "systemd did not answer {method} within {}s",
            TIMEOUT.as_secs()
        )
    })?
    .map_err(|e| format!("systemd {method}: {e}"))
}

/// Restarts a unit; returns the job object path systemd queued.
pub async fn restart_unit(socket: &Path, unit: &str) -> Result<String, String> {
    let reply = manager_call(socket, "RestartUnit", &(unit, "replace")).await?;
    let job: zbus::OwnedObjectPath = reply
        .body()
        .deserialize()
        .map_err(|e| format!("unexpected RestartUnit reply: {e}"))?;
    Ok(job.as_str().to_string())
}

/// Asks systemd to reboot the machine.
pub async fn reboot(socket: &Path) -> Result<(), String> {
    manager_call(socket, "Reboot", &()).await.map(|_| ())
}
