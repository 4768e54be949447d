; Inno Setup 6.3+ script for the Dovecote setup program. packaging/build.py compiles it with:
;   ISCC /DAppVersion=0.1.0 /DAppDir=<dist\dovecote> /DIconFile=<dovecote.ico> /O<dist> dovecote.iss
; Installs for the current user by default (no administrator needed), or for all users if chosen.
#ifndef AppVersion
  #error Define AppVersion, AppDir and IconFile: run packaging/build.py
#endif

#define AppName "Dovecote"
; From packaging/bundle.py: the console program (commands) and the windowed one (menus, shortcuts).
#define CliExe "dovecote.exe"
#define GuiExe "dovecotew.exe"

[Setup]
; The AppId identifies Dovecote across versions (upgrades, uninstall): never change it.
AppId={{A7F1173F-27DF-4F09-AC95-7DB7BB4AB836}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=Dovecote
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputBaseFilename={#AppName}-{#AppVersion}-setup
SetupIconFile={#IconFile}
UninstallDisplayIcon={app}\{#GuiExe}
Compression=lzma2
SolidCompression=yes
WizardStyle=modern

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "contextmenu"; Description: "Add ""Classify with Dovecote"" to the right-click menu of folders"

[Files]
Source: "{#AppDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#GuiExe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#GuiExe}"; Tasks: desktopicon

[Run]
; The app writes its own right-click entries (per user, HKEY_CURRENT_USER), calling the windowed program so
; that no console window flashes; as the user who started setup, even when setup runs elevated.
Filename: "{app}\{#CliExe}"; Parameters: "integrate install --command ""{app}\{#GuiExe}"""; Flags: runhidden runasoriginaluser; Tasks: contextmenu
Filename: "{app}\{#GuiExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallRun]
Filename: "{app}\{#CliExe}"; Parameters: "integrate uninstall"; Flags: runhidden; RunOnceId: "DovecoteIntegrate"
