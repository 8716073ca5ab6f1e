//! A proxy on a socket: [`serve`] (the binary's), [`ProxyServer`] (tests'), the report file
//! kept current while it runs and written in full when it stops.

use std::sync::Arc;

use crate::proxy::config::{ProxyConfig, REPORT_PERIOD};
use crate::proxy::relay::Proxy;
use crate::proxy::report::{self, Report};

/// A running proxy: its address and report; stopped (and its report written) by [`ProxyServer::stop`].
pub struct ProxyServer {
    url: String,
    proxy: Proxy,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl ProxyServer {
    /// Serves `config` on `listener` until [`ProxyServer::stop`] (or drop); the report file,
    /// if any, is kept current.
    pub async fn start(
        config: ProxyConfig,
        listener: tokio::net::TcpListener,
    ) -> std::io::Result<ProxyServer> {
        let address = listener.local_addr()?;
        let url = format!("http://{address}");
        let proxy = Proxy::new(config, &url).map_err(std::io::Error::other)?;
        let (shutdown, signal) = tokio::sync::oneshot::channel::<()>();
        let serving = proxy.clone();
        let task = tokio::spawn(async move {
            serve(serving, listener, async {
                let _ = signal.await;
            })
            .await
        });
        Ok(ProxyServer {
            url,
            proxy,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The report as it stands.
    pub fn report(&self) -> &Arc<Report> {
        self.proxy.report()
    }

    /// Stops serving and writes the report in full.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for ProxyServer {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Serves `proxy` on `listener` until `shutdown`, keeping its report file current (at most
/// every [`REPORT_PERIOD`]) and writing it in full at the end.
pub async fn serve(
    proxy: Proxy,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let path = proxy.report_path().map(std::path::Path::to_path_buf);
    let writer = path
        .clone()
        .map(|path| report::spawn_writer(proxy.report().clone(), path, REPORT_PERIOD));
    if let Some(path) = &path {
        report::write_report(proxy.report(), path);
    }
    let served = axum::serve(listener, proxy.router())
        .with_graceful_shutdown(shutdown)
        .await;
    if let Some(writer) = writer {
        writer.abort();
    }
    if let Some(path) = &path {
        report::write_report(proxy.report(), path);
    }
    served
}
