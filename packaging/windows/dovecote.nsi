; NSIS 3 script for the Dovecote setup program (makensis runs on Windows, Linux and macOS alike).
; packaging/build.py compiles it (packaging/windows_installer.py says with what):
;   makensis -DAppVersion=0.1.0 -DAppDir=<dist/dovecote> -DIconFile=<dovecote.ico>
;            -DUninstallList=<files.nsh> -DOutFile=<dist/Dovecote-0.1.0-setup.exe> dovecote.nsi
; Installs for the current user, without administrator rights, in %LOCALAPPDATA%\Programs\Dovecote.
Unicode true
!ifndef AppVersion
  !error "Define AppVersion, AppDir, IconFile, UninstallList and OutFile: run packaging/build.py"
!endif

!define AppName "Dovecote"
; From packaging/bundle.py: the console program (commands) and the windowed one (menus, shortcuts).
!define CliExe "dovecote.exe"
!define GuiExe "dovecotew.exe"
; Per user (HKEY_CURRENT_USER): where Settings -> Apps finds the uninstaller.
!define UninstallKey "Software\Microsoft\Windows\CurrentVersion\Uninstall\${AppName}"

Name "${AppName}"
OutFile "${OutFile}"
Target amd64-unicode
RequestExecutionLevel user
InstallDir "$LOCALAPPDATA\Programs\${AppName}"
InstallDirRegKey HKCU "Software\${AppName}" "InstallDir"
SetCompressor /SOLID lzma
ManifestDPIAware true
BrandingText "${AppName} ${AppVersion}"
VIProductVersion "${AppVersion}.0"
VIAddVersionKey "ProductName" "${AppName}"
VIAddVersionKey "ProductVersion" "${AppVersion}"
VIAddVersionKey "FileVersion" "${AppVersion}"
VIAddVersionKey "FileDescription" "${AppName} setup"
VIAddVersionKey "LegalCopyright" "MIT licence"

!include "MUI2.nsh"
!include "LogicLib.nsh"
!define MUI_ICON "${IconFile}"
!define MUI_UNICON "${IconFile}"
!define MUI_COMPONENTSPAGE_NODESC
!define MUI_FINISHPAGE_RUN "$INSTDIR\${GuiExe}"
!define MUI_FINISHPAGE_RUN_TEXT "Start ${AppName}"
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Section "${AppName}" SectionApp
  SectionIn RO
  SetOutPath "$INSTDIR"
  File /r "${AppDir}/*"
  WriteUninstaller "$INSTDIR\Uninstall.exe"
  CreateShortcut "$SMPROGRAMS\${AppName}.lnk" "$INSTDIR\${GuiExe}"
  WriteRegStr HKCU "Software\${AppName}" "InstallDir" "$INSTDIR"
  WriteRegStr HKCU "${UninstallKey}" "DisplayName" "${AppName}"
  WriteRegStr HKCU "${UninstallKey}" "DisplayVersion" "${AppVersion}"
  WriteRegStr HKCU "${UninstallKey}" "Publisher" "${AppName}"
  WriteRegStr HKCU "${UninstallKey}" "DisplayIcon" "$INSTDIR\${GuiExe}"
  WriteRegStr HKCU "${UninstallKey}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UninstallKey}" "UninstallString" '"$INSTDIR\Uninstall.exe"'
  WriteRegStr HKCU "${UninstallKey}" "QuietUninstallString" '"$INSTDIR\Uninstall.exe" /S'
  WriteRegDWORD HKCU "${UninstallKey}" "NoModify" 1
  WriteRegDWORD HKCU "${UninstallKey}" "NoRepair" 1
SectionEnd

Section /o "Desktop icon" SectionDesktop
  CreateShortcut "$DESKTOP\${AppName}.lnk" "$INSTDIR\${GuiExe}"
SectionEnd

; The app writes its own right-click entries (HKEY_CURRENT_USER\Software\Classes\Directory\shell and
; Directory\Background\shell, core/integration/windows.py), calling the windowed program so that no console
; window flashes: the same keys as `dovecote integrate install` and the app's Preferences.
Section `Add "Classify with Dovecote" to folders' right-click menu` SectionContextMenu
  nsExec::ExecToLog '"$INSTDIR\${CliExe}" integrate install --command "$INSTDIR\${GuiExe}"'
  Pop $0
  ${If} $0 != 0
    DetailPrint "The right-click entry could not be added ($0); add it later in ${AppName}'s Preferences."
  ${EndIf}
SectionEnd

Section "Uninstall"
  ; First the entries the app wrote (also those added later from its Preferences), while it is still here.
  nsExec::ExecToLog '"$INSTDIR\${CliExe}" integrate uninstall'
  Pop $0
  Delete "$SMPROGRAMS\${AppName}.lnk"
  Delete "$DESKTOP\${AppName}.lnk"
  ; Only the files setup installed (listed at build time), then the folders they leave empty: never a
  ; file of the user's, whatever folder was chosen.
  !include "${UninstallList}"
  Delete "$INSTDIR\Uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKCU "${UninstallKey}"
  DeleteRegKey HKCU "Software\${AppName}"
SectionEnd
