//! Helpers shared by the Rust probes: the mock's URL, its demo app, and a browser
//! stand-in for the consent page (auto_approve=1, read the redirect).

pub const TIKTOK_API: &str = "https://open.tiktokapis.com";
pub const TIKTOK_WWW: &str = "https://www.tiktok.com";

pub fn mock() -> String {
    std::env::args().nth(1).or_else(|| std::env::var("MOCK_URL").ok()).expect("mock URL as $1").trim_end_matches('/').to_string()
}

pub fn to_mock(url: &str, mock: &str) -> String {
    url.replace(TIKTOK_API, mock).replace(TIKTOK_WWW, mock)
}

pub struct App {
    pub client_key: String,
    pub client_secret: String,
    pub redirect_uri: String,
}

pub async fn demo_app(mock: &str) -> App {
    let j: serde_json::Value = reqwest::get(format!("{mock}/_mock/apps")).await.unwrap().json().await.unwrap();
    let a = &j["apps"][0];
    App {
        client_key: a["client_key"].as_str().unwrap().into(),
        client_secret: a["client_secret"].as_str().unwrap().into(),
        redirect_uri: a["redirect_uris"][0].as_str().unwrap().into(),
    }
}

/// Open the consent page as an approving user would; the code from the redirect.
pub async fn approve(authorize_url: &str) -> Result<String, String> {
    let mut u = url::Url::parse(authorize_url).map_err(|e| e.to_string())?;
    u.query_pairs_mut().append_pair("auto_approve", "1");
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = client.get(u).send().await.map_err(|e| e.to_string())?;
    let status = r.status();
    let Some(loc) = r.headers().get("location").map(|l| l.to_str().unwrap().to_string()) else {
        return Err(format!("authorize: HTTP {status}: {}", r.text().await.unwrap_or_default().chars().take(200).collect::<String>()));
    };
    let loc = url::Url::parse(&loc).map_err(|e| e.to_string())?;
    loc.query_pairs().find(|(k, _)| k == "code").map(|(_, v)| v.into_owned()).ok_or(format!("no code in {loc}"))
}

pub fn step(name: &str) {
    println!("--- {name}");
}

pub fn write_video(size: usize) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("published-clients-{}.mp4", std::process::id()));
    let mut bytes = b"\0\0\0\x18ftypmp42".to_vec();
    bytes.resize(size, 7);
    std::fs::write(&path, bytes).unwrap();
    path
}
